"""Report families as named tables with Dutch headings: what the API, exports and CLI serve."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_contract.codes import (
    ClientStream,
    Decision,
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
    TrajectoryOutcome,
    TrajectoryPhase,
)
from stroom_contract.rows import UNITS
from stroom_platform.organisations import Organisation
from stroom_reporting import queries
from stroom_reporting.domain import board as board_layout
from stroom_reporting.domain import families, mutations
from stroom_reporting.domain import status as figure_status
from stroom_reporting.domain.months import (
    first_day,
    format_month,
    format_quarter,
    last_day,
    month_range,
    previous_month,
    quarter_months,
)

REGULATIONS = tuple(r.value for r in Regulation)
LABELS: dict[str, dict[str, str]] = {
    "regulation": Regulation.labels(),
    "inflow": InflowReason.labels(),
    "outflow": OutflowReason.labels(),
    "kind": PlacementKind.labels(),
    "phase": TrajectoryPhase.labels(),
    "outcome": TrajectoryOutcome.labels(),
    "client_stream": ClientStream.labels(),
    "decision": Decision.labels(),
    "unit": {"benefits": "Uitkeringen", "persons": "Personen"},
    "direction": {"inflow": "Instroom", "outflow": "Uitstroom"},
    "household": {"single": "Alleenstaand", "couple": "Paar"},
    "dimension": {
        "regulation": "Regeling",
        "duration": "Duur uitkering",
        "age": "Leeftijd",
        "household": "Huishouden",
        "ladder_step": "Trede participatieladder",
        "target_step": "Doeltrede participatieladder",
        "client_stream": "Doelgroep",
    },
}
CBS_CODES: dict[str, dict[str, str]] = {
    dimension: {m.value: m.cbs_code for m in codes if m.cbs_code is not None}
    for dimension, codes in (
        ("regulation", Regulation),
        ("inflow", InflowReason),
        ("outflow", OutflowReason),
    )
}


def coded(column: str, dimension: str, code: str, *, cbs_column: str | None = None) -> dict[str, Any]:
    """A code under `column` for machines with its Dutch label beside it for people, and under
    `cbs_column` its CBS code (None where the code list has none for it)."""
    row: dict[str, Any] = {column: code, f"{column}_label": LABELS[dimension].get(code, "Onbekend")}
    if cbs_column is not None:
        row[cbs_column] = CBS_CODES[dimension].get(code)
    return row


BUCKET_ORDER = {"duration": families.DURATION_BUCKETS, "age": families.AGE_BUCKETS}
HEADINGS = {
    "month": "Maand",
    "quarter": "Kwartaal",
    "municipality": "Gemeentecode",
    "municipality_name": "Gemeente",
    "regulation": "Regeling",
    "unit": "Eenheid",
    "begin": "Begin",
    "inflow": "Instroom",
    "outflow": "Uitstroom",
    "end": "Eind",
    "direction": "Richting",
    "direction_label": "Omschrijving richting",
    "reason": "Reden",
    "reason_label": "Omschrijving",
    "count": "Aantal",
    "rank": "Positie",
    "dimension": "Kenmerk",
    "dimension_label": "Omschrijving kenmerk",
    "value": "Waarde",
    "kind": "Soort plaatsing",
    "active": "Actief",
    "target": "Taakstelling incl. extra",
    "realisation_pct": "Realisatie %",
    "phase": "Fase",
    "phase_label": "Omschrijving fase",
    "outcome": "Uitkomst",
    "outcome_label": "Omschrijving uitkomst",
    "coach": "Klantmanager",
    "client_stream": "Doelgroep",
    "client_stream_label": "Omschrijving doelgroep",
    "received": "Ontvangen",
    "granted": "Toegekend",
    "rejected": "Afgewezen",
    "withdrawn": "Ingetrokken",
    "not_granted_pct": "Niet toegekend %",
    "stock_date": "Peildatum",
    "kpi": "KPI",
    "kpi_label": "Indicator",
    "last_year": "Zelfde periode vorig jaar",
    "norm": "Norm",
    "met": "Norm gehaald",
    "basis": "Aantal (basis)",
    "outflow_reason": "Uitstroomreden",
    "outflow_reason_label": "Omschrijving uitstroomreden",
    "outflow_reason_cbs_code": "CBS-code uitstroomreden",
    "inflow_reason": "Nieuwe instroomreden",
    "inflow_reason_label": "Omschrijving nieuwe instroomreden",
    "inflow_reason_cbs_code": "CBS-code nieuwe instroomreden",
    "within_6m": "Terug binnen 6 maanden",
    "within_12m": "Terug binnen 12 maanden",
    "line": "Regel",
    "line_label": "Omschrijving",
    "total": "Totaal",
    "year": "Jaar",
    "taakstelling": "Taakstelling",
    "additional": "Additionele plekken",
    "realised": "Gerealiseerd",
    "regulation_label": "Omschrijving",
    "status": "Status",
    "kind_label": "Omschrijving",
    "value_label": "Omschrijving",
    "cbs_code": "CBS-code",
    "definition": "Definitie",
    "numerator": "Teller",
    "denominator": "Noemer",
    "period": "Periode",
    "source": "Bron",
    "status_label": "Omschrijving",
    "revised": "Herzien na definitief",
}


@dataclass
class ReportTable:
    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Headings of columns that are this table's own (months as columns), beside HEADINGS.
    headings: dict[str, str] = field(default_factory=dict)

    def heading(self, column: str) -> str:
        return self.headings.get(column) or HEADINGS[column]


@dataclass
class Scope:
    organisation: Organisation
    municipalities: list[str]
    names: dict[str, str]


@dataclass
class Report:
    family: str
    title: str
    scope: Scope
    period: dict[str, str]
    as_of: datetime | None
    tables: list[ReportTable]

    @classmethod
    def of_months(
        cls,
        family: str,
        title: str,
        scope: Scope,
        months: tuple[int, int],
        as_of: datetime | None,
        *tables: ReportTable,
    ) -> Report:
        """A report over the months first..last."""
        period = {"from": format_month(months[0]), "to": format_month(months[1])}
        return cls(family, title, scope, period, as_of, list(tables))

    @classmethod
    def of_day(
        cls, family: str, title: str, scope: Scope, day: date, as_of: datetime | None, *tables: ReportTable
    ) -> Report:
        """A report on a stock date."""
        return cls(family, title, scope, {"stock_date": day.isoformat()}, as_of, list(tables))

    def document(self) -> dict[str, Any]:
        return {
            "report": self.family,
            "title": self.title,
            "organisation": {"code": self.scope.organisation.code, "name": self.scope.organisation.name},
            "municipalities": [{"code": m, "name": self.scope.names[m]} for m in self.scope.municipalities],
            "period": self.period,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "headings": HEADINGS,
            "tables": {
                table.name: {"title": table.title, "columns": table.columns, "rows": table.rows}
                | ({"headings": table.headings} if table.headings else {})
                for table in self.tables
            },
        }


MUTATION_COLUMNS = [
    "month",
    "municipality",
    "municipality_name",
    "regulation",
    "regulation_label",
    "unit",
    "begin",
    "inflow",
    "outflow",
    "end",
    "status",
    "revised",
]


def report_date(as_of: datetime | None) -> date:
    """The day a report speaks of: that of `as_of`, else today (UTC, as the service's clock)."""
    return (as_of or datetime.now(UTC)).astimezone(UTC).date()


def definitive_since(organisation: Organisation, month: int) -> datetime:
    """The moment a month's figures became definitive: what was known then is what a revision
    is measured against."""
    day = figure_status.months_after_end(month, organisation.figure_status.definitive_months)
    return datetime.combine(day, time(), UTC)


def month_statuses(
    organisation: Organisation, first: int, last: int, as_of: datetime | None
) -> dict[int, str]:
    day = report_date(as_of)
    thresholds = organisation.figure_status
    return {
        month: figure_status.month_status(
            month, day, thresholds.provisional_months, thresholds.definitive_months
        )
        for month in month_range(first, last)
    }


@dataclass(frozen=True)
class Finality:
    """How final each month of a report is, and which definitive figures were revised: keyed
    (municipality, regulation, unit, month), `*` for totals and month 0 for the period."""

    statuses: dict[int, str]
    revised: frozenset[tuple[str, str, str, int]]

    @property
    def period_status(self) -> str:
        return figure_status.least_final(self.statuses.values())


@dataclass(frozen=True)
class MonthlyFigures:
    """The monthly report's rows per municipality x regulation x unit x month, each key's period
    total (month 0), and the totals per municipality, per regulation and of the organisation."""

    rows: list[mutations.MutationRow]
    period: list[mutations.MutationRow]
    municipality: list[mutations.MutationRow]
    regulation: list[mutations.MutationRow]
    organisation: list[mutations.MutationRow]
    organisation_period: list[mutations.MutationRow]


async def _monthly_figures(conn: AsyncConnection, asked: queries.FlowsAsked) -> MonthlyFigures:
    """The figures as the database sums them (queries.monthly_figures), as rows."""
    municipalities, regulations, units = asked.municipalities, asked.regulations, asked.units
    figures = await queries.monthly_figures(conn, asked)
    grouped: list[list[mutations.MutationRow]] = [[] for _ in queries.FIGURE_SETS]
    total = mutations.TOTAL
    for m, r, u, month, begin, inflow, outflow, end, first_begin, last_end, index in figures:
        if month is None:
            begin, end = first_begin, last_end
        key = (
            total if m is None else municipalities[m],
            total if r is None else regulations[r],
            units[u],
        )
        grouped[index].append(mutations.MutationRow(*key, month or 0, begin, inflow, outflow, end))
    return MonthlyFigures(*grouped)


def _mutation_tables(
    figures: Sequence[Any], asked: queries.FlowsAsked, names: dict[str, str], finality: Finality
) -> list[list[dict[str, Any]]]:
    """The monthly report's rows per FIGURE_SETS, straight from the figures as the database sums
    them (queries.monthly_figures, keys as in `_monthly_figures`): one pass, each column of a key
    position, month and total looked up once a report, not once a row."""
    whole = (mutations.TOTAL, "Totaal")
    municipalities = [(code, names.get(code, "Totaal")) for code in asked.municipalities]
    regulations = [(code, LABELS["regulation"].get(code, "Totaal")) for code in asked.regulations]
    units = asked.units
    months = {month: (format_month(month), status) for month, status in finality.statuses.items()}
    period = ("totaal", finality.period_status)
    revised = finality.revised
    tables: list[list[dict[str, Any]]] = [[] for _ in queries.FIGURE_SETS]
    for m, r, u, month, begin, inflow, outflow, end, first_begin, last_end, index in figures:
        municipality, municipality_name = whole if m is None else municipalities[m]
        regulation, regulation_label = whole if r is None else regulations[r]
        unit = units[u]
        if month is None:
            (label, status), month, begin, end = period, 0, first_begin, last_end
        else:
            label, status = months[month]
        tables[index].append(
            {
                "month": label,
                "municipality": municipality,
                "municipality_name": municipality_name,
                "regulation": regulation,
                "regulation_label": regulation_label,
                "unit": unit,
                "begin": begin,
                "inflow": inflow,
                "outflow": outflow,
                "end": end,
                "status": status,
                "revised": bool(revised) and (municipality, regulation, unit, month) in revised,
            }
        )
    return tables


def _keyed(
    rows: Iterable[mutations.MutationRow],
) -> dict[tuple[str, str, str, int], tuple[int, int, int, int]]:
    """(municipality, regulation, unit, month) -> (begin, inflow, outflow, end)."""
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6], r[7]) for r in rows}


async def _revisions(
    conn: AsyncConnection,
    scope: Scope,
    regulations: Sequence[str],
    units: Sequence[str],
    months: Iterable[int],
    as_of: datetime | None,
) -> dict[tuple[str, str, str, int], figure_status.Figures]:
    """How the figures of definitive months known at `as_of` (now when None) differ from those
    known when each became definitive, per key and total, where they differ."""
    since = {month: definitive_since(scope.organisation, month) for month in months}
    if not since:
        return {}
    # A change recorded less than this many months after its month was known when it became definitive.
    lateness = scope.organisation.figure_status.definitive_months + 1
    changes = await queries.late_flows(
        conn, scope.municipalities, regulations, units, lateness, max(since), min(since.values())
    )
    deltas = figure_status.revisions(changes, since, as_of)
    return figure_status.with_totals(deltas, mutations.TOTAL)


async def finality(conn: AsyncConnection, scope: Scope, asked: queries.FlowsAsked) -> Finality:
    """Each month's status on the report date; a definitive month is revised where its figures
    differ from those known when it became definitive."""
    statuses = month_statuses(scope.organisation, asked.first, asked.last, asked.as_of)
    definitive = [m for m, s in statuses.items() if s == figure_status.DEFINITIVE]
    revisions = _revisions(conn, scope, asked.regulations, asked.units, definitive, asked.as_of)
    revised = set(await revisions)
    revised |= {(m, r, u, 0) for m, r, u, _ in revised}
    return Finality(statuses, frozenset(revised))


def _figures(values: Sequence[int]) -> dict[str, int]:
    return dict(zip(("begin", "inflow", "outflow", "end"), values, strict=True))


async def changes(conn: AsyncConnection, scope: Scope, since: datetime) -> list[dict[str, Any]]:
    """Months whose flows were restated after `since` (the service's clock), each with its status
    today; a definitive month restated after it became definitive is a revision, with its figures
    as they were then (before) and as they are now (after)."""
    rows = await queries.changed_months(conn, scope.municipalities, since)
    if not rows:
        return []
    first, last = min(r.month for r in rows), max(r.month for r in rows)
    statuses = month_statuses(scope.organisation, first, last, None)
    late = [month for month in sorted({r.month for r in rows}) if statuses[month] == figure_status.DEFINITIVE]
    deltas = await _revisions(conn, scope, REGULATIONS, UNITS, late, None)
    now: dict[tuple[str, str, str, int], tuple[int, int, int, int]] = {}
    if deltas:
        revised_months = [key[3] for key in deltas]
        asked = queries.FlowsAsked(
            scope.municipalities, REGULATIONS, UNITS, min(revised_months), max(revised_months), None
        )
        current = await _monthly_figures(conn, asked)
        now = _keyed(current.rows)
    result = []
    for r in rows:
        entry: dict[str, Any] = {
            "municipality": r.municipality,
            "regulation": r.regulation,
            "unit": r.unit,
            "month": format_month(r.month),
            "changed_at": r.changed_at.isoformat(),
            "status": statuses[r.month],
            "revision": False,
        }
        key = (r.municipality, r.regulation, r.unit, r.month)
        if key in deltas:
            after = now[key]
            before = tuple(a - d for a, d in zip(after, deltas[key], strict=True))
            entry |= {"revision": True, "before": _figures(before), "after": _figures(after)}
        result.append(entry)
    return result


async def monthly(
    conn: AsyncConnection,
    scope: Scope,
    regulations: Sequence[str],
    units: Sequence[str],
    first: int,
    last: int,
    as_of: datetime | None,
) -> Report:
    """Report 1: rows per municipality x regulation x unit x month, the period total and totals."""
    asked = queries.FlowsAsked(scope.municipalities, regulations, units, first, last, as_of)
    figures = await queries.monthly_figures(conn, asked)
    rows = _mutation_tables(figures, asked, scope.names, await finality(conn, scope, asked))
    titles = [
        ("rows", "Mutaties per maand"),
        ("period_totals", "Totaal over de periode"),
        ("municipality_totals", "Totaal per gemeente"),
        ("regulation_totals", "Totaal per regeling"),
        ("organisation_totals", "Totaal organisatie"),
        ("organisation_period_totals", "Totaal organisatie over de periode"),
    ]
    tables = [
        ReportTable(name, title, MUTATION_COLUMNS, table_rows)
        for (name, title), table_rows in zip(titles, rows, strict=True)
    ]
    return Report.of_months("monthly", "Maandelijkse mutaties", scope, (first, last), as_of, *tables)


async def reasons(
    conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None
) -> Report:
    """Report 2: benefits started / ended per reason in the period, and the top 5 per municipality."""
    counts = await queries.reasons(conn, scope.municipalities, first, last, as_of)
    all_rows = []
    per_key: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for municipality, direction, reason, count in sorted(counts):
        per_key[(municipality, direction)][reason] += count
    for (municipality, direction), counter in sorted(per_key.items()):
        for reason, count in sorted(counter.items()):
            all_rows.append(_reason_row(scope, municipality, direction, reason, count))
    top_rows = []
    for municipality in scope.municipalities:
        for direction in ("inflow", "outflow"):
            for rank, (reason, count) in enumerate(families.top(per_key[(municipality, direction)]), 1):
                top_rows.append({"rank": rank, **_reason_row(scope, municipality, direction, reason, count)})
    columns = [
        "municipality",
        "municipality_name",
        "direction",
        "direction_label",
        "reason",
        "reason_label",
        "cbs_code",
        "count",
    ]
    return Report.of_months(
        "reasons",
        "In- en uitstroomredenen",
        scope,
        (first, last),
        as_of,
        ReportTable("reasons", "Redenen", columns, all_rows),
        ReportTable("top5", "Top 5 per gemeente", ["rank", *columns], top_rows),
    )


def _reason_row(scope: Scope, municipality: str, direction: str, reason: str, count: int) -> dict[str, Any]:
    return {
        "municipality": municipality,
        "municipality_name": scope.names[municipality],
        **coded("direction", "direction", direction),
        **coded("reason", direction, reason, cbs_column="cbs_code"),
        "count": count,
    }


async def composition(conn: AsyncConnection, scope: Scope, day: date, as_of: datetime | None) -> Report:
    """Report 3: the benefits active on a stock date by regulation, duration, age, household, ladder."""
    spells = await queries.count_spells_on(conn, scope.municipalities, day, as_of)
    partners = {s.entity for s in spells if s.unit == "persons" and s.role == "partner"}
    benefits = [s for s in spells if s.unit == "benefits"]
    assessed = await queries.assessments_on(
        conn, [s.client_ref for s in benefits if s.client_ref], day, as_of
    )
    counts = families.composition(
        (
            families.BenefitOnDate(
                s.municipality,
                s.regulation,
                s.start_date,
                s.birth_date,
                s.entity in partners,
                assessed.get(s.client_ref) if s.client_ref else None,
            )
            for s in benefits
        ),
        day,
    )
    rows = []
    for municipality in scope.municipalities:
        for dimension, counter in sorted(counts.get(municipality, {}).items()):
            order = BUCKET_ORDER.get(dimension, ())
            for value, count in sorted(
                counter.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])
            ):
                rows.append(
                    {
                        "stock_date": day.isoformat(),
                        "municipality": municipality,
                        "municipality_name": scope.names[municipality],
                        **coded("dimension", "dimension", dimension),
                        "value": value,
                        # Buckets and ladder steps are their own labels; only what is unknown is not.
                        "value_label": LABELS.get(dimension, {}).get(
                            value, "Onbekend" if value == families.UNKNOWN else value
                        ),
                        "cbs_code": CBS_CODES.get(dimension, {}).get(value),
                        "count": count,
                    }
                )
    columns = [
        "stock_date",
        "municipality",
        "municipality_name",
        "dimension",
        "dimension_label",
        "value",
        "value_label",
        "cbs_code",
        "count",
    ]
    table = ReportTable("composition", "Samenstelling op peildatum", columns, rows)
    return Report.of_day("composition", "Samenstelling klantenbestand", scope, day, as_of, table)


async def _placements_active(
    conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None
) -> dict[tuple[str, str, int], int]:
    """(municipality, kind, month) -> placements active on the month's last day."""
    before = last_day(previous_month(first))
    spells = await queries.spells(conn, "placement", scope.municipalities, before, last_day(last), as_of)
    return families.active_per_month_end(
        ((s.municipality, s.kind, s.start_date, s.end_date) for s in spells), first, last
    )


async def placements(
    conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None
) -> Report:
    """Report 4: placements active per kind on each month end; sheltered work against its target."""
    active = await _placements_active(conn, scope, first, last, as_of)
    statuses = month_statuses(scope.organisation, first, last, as_of)
    rows, target_rows = [], []
    for municipality in scope.municipalities:
        for month in month_range(first, last):
            base = {
                "month": format_month(month),
                "municipality": municipality,
                "municipality_name": scope.names[municipality],
                "status": statuses[month],
            }
            for kind in PlacementKind:
                count = active.get((municipality, kind.value, month), 0)
                rows.append({**base, "kind": kind.value, "kind_label": kind.label, "active": count})
            target = scope.organisation.sheltered_work_target(municipality, month // 100)
            sheltered = active.get((municipality, PlacementKind.SHELTERED_WORK.value, month), 0)
            total = target.total if target else None
            target_rows.append(
                {
                    **base,
                    "active": sheltered,
                    "target": total,
                    "realisation_pct": families.realisation(sheltered, total),
                }
            )
    place_columns = ["month", "municipality", "municipality_name", "kind", "kind_label", "active", "status"]
    target_columns = [
        "month",
        "municipality",
        "municipality_name",
        "active",
        "target",
        "realisation_pct",
        "status",
    ]
    return Report.of_months(
        "placements",
        "Plaatsingen",
        scope,
        (first, last),
        as_of,
        ReportTable("placements", "Actieve plaatsingen op maandeinde", place_columns, rows),
        ReportTable("sheltered_work", "Beschut werk tegen taakstelling", target_columns, target_rows),
    )


async def trajectories(
    conn: AsyncConnection, scope: Scope, quarters: Sequence[int], as_of: datetime | None
) -> Report:
    """Report 5: per quarter and phase begin / in / out / end, and ended by last phase x outcome."""
    first, last = quarter_months(quarters[0])[0], quarter_months(quarters[-1])[1]
    before = last_day(previous_month(first))
    spells = await queries.spells(conn, "phase", scope.municipalities, before, last_day(last), as_of)
    rows, ended_rows = [], []
    for quarter in quarters:
        counts = families.phase_quarter(
            ((s.municipality, s.phase, s.start_date, s.end_date) for s in spells), quarter
        )
        ended = families.ended_by_phase_outcome(
            ((s.municipality, s.phase, s.outcome, s.end_date) for s in spells if s.is_last), quarter
        )
        label = format_quarter(quarter)
        for municipality in scope.municipalities:
            base = {
                "quarter": label,
                "municipality": municipality,
                "municipality_name": scope.names[municipality],
            }
            for phase in TrajectoryPhase:
                c = counts.get((municipality, phase.value), families.PhaseCounts(0, 0, 0, 0))
                rows.append(
                    {**base, **coded("phase", "phase", phase.value), "begin": c.begin, "inflow": c.inflow}
                    | {"outflow": c.outflow, "end": c.end}
                )
            for (muni, phase_code, outcome), count in sorted(ended.items()):
                if muni == municipality:
                    ended_rows.append(
                        {**base, **coded("phase", "phase", phase_code)}
                        | {**coded("outcome", "outcome", outcome), "count": count}
                    )
    base_columns = ["quarter", "municipality", "municipality_name", "phase", "phase_label"]
    return Report(
        "trajectories",
        "Trajecten per kwartaal",
        scope,
        {"quarter": format_quarter(quarters[0])}
        if len(quarters) == 1
        else {"from": format_quarter(quarters[0]), "to": format_quarter(quarters[-1])},
        as_of,
        [
            ReportTable(
                "phases", "Trajecten per fase", [*base_columns, "begin", "inflow", "outflow", "end"], rows
            ),
            ReportTable(
                "ended",
                "Beëindigde trajecten",
                [*base_columns, "outcome", "outcome_label", "count"],
                ended_rows,
            ),
        ],
    )


async def caseload(conn: AsyncConnection, scope: Scope, day: date, as_of: datetime | None) -> Report:
    """Report 6: clients (members of active benefits) per coach on a stock date, by client stream."""
    spells = await queries.count_spells_on(conn, scope.municipalities, day, as_of)
    clients = sorted({(s.municipality, s.client_ref) for s in spells if s.unit == "persons"})
    refs = [client for _, client in clients]
    coaches = await queries.coaches_on(conn, refs, day, as_of)
    assessed = await queries.assessments_on(conn, refs, day, as_of)
    counts = families.caseload(
        [(m, c, coaches.get(c), assessed[c].client_stream if c in assessed else None) for m, c in clients]
    )
    rows = [
        {
            "stock_date": day.isoformat(),
            "municipality": municipality,
            "municipality_name": scope.names[municipality],
            "coach": coach if coach != families.UNKNOWN else "Geen klantmanager",
            **coded("client_stream", "client_stream", stream),
            "count": count,
        }
        for (municipality, coach, stream), count in sorted(counts.items())
    ]
    columns = [
        "stock_date",
        "municipality",
        "municipality_name",
        "coach",
        "client_stream",
        "client_stream_label",
        "count",
    ]
    table = ReportTable("caseload", "Actieve klanten per klantmanager", columns, rows)
    return Report.of_day("caseload", "Caseload per klantmanager", scope, day, as_of, table)


async def gate(conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None) -> Report:
    """Report 7: applications received and decided per month, and the share not granted."""
    apps = await queries.applications(conn, scope.municipalities, first_day(first), last_day(last), as_of)
    counts = families.gate(
        ((a.municipality, a.received_on, a.decision, a.decided_on) for a in apps), first, last
    )
    statuses = month_statuses(scope.organisation, first, last, as_of)
    months = month_range(first, last)
    names = {**scope.names, mutations.TOTAL: "Totaal"}

    def counted(municipality: str, c: families.GateCounts) -> dict[str, Any]:
        return {
            "municipality": municipality,
            "municipality_name": names[municipality],
            "received": c.received,
            "granted": c.granted,
            "rejected": c.rejected,
            "withdrawn": c.withdrawn,
            "not_granted_pct": c.share_not_granted,
        }

    def of(municipalities: Sequence[str], within: Sequence[int]) -> families.GateCounts:
        return families.GateCounts.total(counts.get((m, month)) for m in municipalities for month in within)

    def monthly(municipality: str, month: int, c: families.GateCounts) -> dict[str, Any]:
        return {"month": format_month(month), **counted(municipality, c), "status": statuses[month]}

    rows = [monthly(m, month, of([m], [month])) for m in scope.municipalities for month in months]
    # The municipalities together and the whole period: shares by the same rule as each month's.
    total_rows = [monthly(mutations.TOTAL, month, of(scope.municipalities, [month])) for month in months]
    period_rows = [counted(m, of([m], months)) for m in scope.municipalities]
    period_rows.append(counted(mutations.TOTAL, of(scope.municipalities, months)))
    counts_columns = [
        "municipality",
        "municipality_name",
        "received",
        "granted",
        "rejected",
        "withdrawn",
        "not_granted_pct",
    ]
    columns = ["month", *counts_columns, "status"]
    return Report.of_months(
        "gate",
        "Poort: aanvragen",
        scope,
        (first, last),
        as_of,
        ReportTable("gate", "Aanvragen per maand", columns, rows),
        ReportTable("totals", "Aanvragen per maand, gemeenten samen", columns, total_rows),
        ReportTable("period_totals", "Aanvragen over de periode", counts_columns, period_rows),
    )


async def board(conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None) -> Report:
    """The board report: per municipality the months as columns for uitkeringen and personen,
    loonkostensubsidie on every month end, beschut werk against its target; and the number of
    benefits per regulation for the organisation."""
    months = month_range(first, last)
    keys = [format_month(m) for m in months]
    labels = dict(zip(keys, board_layout.column_labels(first, last), strict=True))
    asked = queries.FlowsAsked(scope.municipalities, REGULATIONS, ("benefits", "persons"), first, last, as_of)
    figures = await _monthly_figures(conn, asked)
    per_key: dict[tuple[str, str, str], list[mutations.MutationRow]] = defaultdict(list)
    for row in (*figures.municipality, *figures.regulation, *figures.organisation):
        per_key[(row.municipality, row.regulation, row.unit)].append(row)
    lines = []
    for municipality in scope.municipalities:
        for unit in ("benefits", "persons"):
            for line in board_layout.mutation_lines(per_key[(municipality, mutations.TOTAL, unit)]):
                lines.append(
                    {
                        "municipality": municipality,
                        "municipality_name": scope.names[municipality],
                        "unit": unit,
                        "line": line.code,
                        "line_label": line.label,
                    }
                    | dict(zip(keys, line.values, strict=True))
                    | {"total": line.total}
                )
    stock_labels = {"begin": f"Begin {labels[keys[0]]}"} | {k: f"Eind {labels[k]}" for k in keys}
    active = await _placements_active(conn, scope, previous_month(first), last, as_of)
    lks = PlacementKind.WAGE_SUBSIDY.value
    wage_subsidy = [
        {
            "municipality": municipality,
            "municipality_name": scope.names[municipality],
            "begin": active.get((municipality, lks, previous_month(first)), 0),
        }
        | {k: active.get((municipality, lks, m), 0) for k, m in zip(keys, months, strict=True)}
        for municipality in scope.municipalities
    ]
    year = last // 100
    sheltered: list[tuple[str, str, board_layout.ShelteredWork]] = []
    for municipality in scope.municipalities:
        target = scope.organisation.sheltered_work_target(municipality, year)
        realised = active.get((municipality, PlacementKind.SHELTERED_WORK.value, last), 0)
        sheltered.append(
            (
                municipality,
                scope.names[municipality],
                board_layout.ShelteredWork(
                    target.taakstelling if target else None, target.additional if target else None, realised
                ),
            )
        )
    total = board_layout.sheltered_total([s for _, _, s in sheltered])
    sheltered_rows = [
        {
            "municipality": municipality,
            "municipality_name": name,
            "year": year,
            "taakstelling": s.taakstelling,
            "additional": s.additional,
            "target": s.target,
            "realised": s.realised,
            "realisation_pct": s.realisation_pct,
        }
        for municipality, name, s in [*sheltered, (mutations.TOTAL, "Totaal", total)]
    ]
    regulation_rows = []
    for regulation in (*board_layout.REGULATION_ORDER, mutations.TOTAL):
        source = (mutations.TOTAL, regulation, "benefits")
        stock = per_key[source]
        regulation_rows.append(
            {
                "regulation": regulation,
                "regulation_label": LABELS["regulation"].get(regulation, "Totaal"),
                "begin": stock[0].begin if stock else 0,
            }
            | {format_month(r.month): r.end for r in stock}
        )
    place = ["municipality", "municipality_name"]
    final = await finality(conn, scope, asked)
    status_rows = [
        {"month": format_month(m), "status": final.statuses[m], "status_label": figure_status.LABELS[s]}
        for m, s in final.statuses.items()
    ]
    revision_rows = [
        {
            "municipality": municipality,
            "municipality_name": scope.names.get(municipality, "Totaal"),
            "regulation": regulation,
            "regulation_label": LABELS["regulation"].get(regulation, "Totaal"),
            "unit": unit,
            "month": format_month(month),
        }
        for municipality, regulation, unit, month in sorted(final.revised)
        if month and mutations.TOTAL in (municipality, regulation)
    ]
    tables = [
        ReportTable("status", "Status per maand", ["month", "status", "status_label"], status_rows),
        ReportTable(
            "revisions",
            "Herzien nadat de maand definitief werd",
            [*place, "regulation", "regulation_label", "unit", "month"],
            revision_rows,
        ),
        ReportTable(
            "mutations",
            "Aantal uitkeringen en personen per maand",
            [*place, "unit", "line", "line_label", *keys, "total"],
            lines,
            labels,
        ),
        ReportTable(
            "wage_subsidy", "Loonkostensubsidie", [*place, "begin", *keys], wage_subsidy, stock_labels
        ),
        ReportTable(
            "sheltered_work",
            "Beschut werk",
            [*place, "year", "taakstelling", "additional", "target", "realised", "realisation_pct"],
            sheltered_rows,
            {"target": "Totaal"},
        ),
        ReportTable(
            "regulations",
            "Overzicht aantal uitkeringen",
            ["regulation", "regulation_label", "begin", *keys],
            regulation_rows,
            stock_labels | {"regulation": "Regeling"},
        ),
    ]
    return Report.of_months("board", "Bestuursrapportage", scope, (first, last), as_of, *tables)
