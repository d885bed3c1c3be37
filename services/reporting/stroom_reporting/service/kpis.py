"""Report 8, KPIs: fetch the inputs, compute them per municipality and for the organisation."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.organisations import KpiTargets
from stroom_reporting import kpi_store, queries
from stroom_reporting.domain import kpi_cells, kpis
from stroom_reporting.domain.families import active_on
from stroom_reporting.domain.months import first_day, format_month, last_day, month_range, next_month
from stroom_reporting.domain.mutations import FlowTuple
from stroom_reporting.service.reports import Report, ReportTable, Scope, coded, report_date

LABEL = {
    "K1": "K1 Gemiddelde uitkeringsduur (dagen)",
    "K2": "K2 Actuele voortgangsrapportage (%)",
    "K3": "K3 Doorlooptijd aanvraag tot Plan naar Werk, gemiddeld (dagen)",
    "K3_median": "K3 Doorlooptijd aanvraag tot Plan naar Werk, mediaan (dagen)",
    "K4": "K4 Uitstroom naar werk en onderwijs t.o.v. gemiddeld klantenbestand (%)",
    "K5": "K5 Duurzame uitstroom naar werk (%)",
    "K5_pending": "K5 Uitstroom naar werk, 6 maanden nog niet verstreken (aantal)",
    "inflow_rate": "Benchmark instroompercentage, 12 maanden (%)",
    "outflow_rate": "Benchmark uitstroompercentage, 12 maanden (%)",
}
# The definitions as computed (reports-v1), for the board: P(D) is the population every measure
# starts from.
_P = (
    "P(D): de aanvragers van uitkeringen PW, IOAW en IOAZ die op D lopen, zonder zorgklanten"
    " (doelgroep zorg of vrijgesteld van de arbeidsplicht volgens de laatste diagnose op of voor D;"
    " op één dag de laatst vastgelegde). Per uitkering één persoon: de aanvrager zolang die lid is,"
    " is de aanvrager vertrokken, dan het langst zittende overgebleven lid."
)
DEFINITIONS = {
    "K1": "Gemiddeld aantal dagen sinds de start van de uitkering op de peildatum, over P(peildatum)"
    " zonder klanten van 60 jaar of ouder. Teller: som van die dagen; noemer: aantal klanten. " + _P,
    "K2": "Aandeel van de bemiddelbare klanten in P(peildatum) van wie de laatste voortgangsrapportage"
    " hoogstens 3 maanden oud is (12 maanden bij een langdurig traject of vanaf 60 jaar). Teller:"
    " bemiddelbare klanten met een actuele rapportage; noemer: alle bemiddelbare klanten. " + _P,
    "K3": "Gemiddeld aantal dagen van ontvangst van de aanvraag (de gekoppelde, anders de laatste"
    " ontvangen op of voor de verzenddatum) tot verzending van het Plan naar Werk, voor plannen"
    " verzonden in de periode. Teller: som van die dagen; noemer: aantal plannen.",
    "K3_median": "Mediaan van dezelfde doorlooptijden als K3.",
    "K4": "Uitkeringen PW, IOAW en IOAZ beëindigd in de periode met reden werk of onderwijs, als"
    " percentage van het gemiddelde van de aantallen in P op de maandeinden van de periode."
    " Teller: die beëindigingen; noemer: het gemiddelde aantal klanten. " + _P,
    "K5": "Van de uitkeringen PW, IOAW en IOAZ beëindigd in de periode met reden werk: het aandeel"
    " waarvan geen lid binnen 183 dagen een nieuwe uitkering kreeg of bij een andere uitkering"
    " kwam (elke regeling, elke gemeente van de organisatie). Teller: duurzaam uitgestroomd;"
    " noemer: duurzaam plus teruggekeerd. Uitstroom waarvan de 183 dagen nog niet voorbij zijn,"
    " telt niet mee (zie K5_pending).",
    "K5_pending": "Uitstroom naar werk in de periode waarvan de 183 dagen op de rapportagedatum nog"
    " niet voorbij zijn.",
    "inflow_rate": "Gestarte uitkeringen PW, IOAW en IOAZ in de 12 maanden tot en met de laatste maand,"
    " als percentage van het gemiddelde bestand op de maandeinden van die 12 maanden.",
    "outflow_rate": "Beëindigde uitkeringen PW, IOAW en IOAZ in de 12 maanden tot en met de laatste"
    " maand, als percentage van het gemiddelde bestand op de maandeinden van die 12 maanden.",
}
KPI_COLUMNS = [
    "municipality",
    "municipality_name",
    "kpi",
    "kpi_label",
    "definition",
    "value",
    "last_year",
    "norm",
    "met",
    "numerator",
    "denominator",
    "basis",
    "period",
    "stock_date",
    "source",
]
DOOR_COLUMNS = [
    "municipality",
    "municipality_name",
    "outflow_reason",
    "outflow_reason_label",
    "outflow_reason_cbs_code",
    "inflow_reason",
    "inflow_reason_label",
    "inflow_reason_cbs_code",
    "within_6m",
    "within_12m",
]


async def _lead_times(
    conn: AsyncConnection, own: list[str], first: date, last: date, as_of: datetime | None
) -> list[kpis.LeadTime]:
    """K3's plans sent from `first` to `last`, each with its application and lead time."""
    plans = [kpi_store.plan_of(row) for row in await queries.plans_sent(conn, first, last, as_of)]
    linked = await queries.kpi_applications(conn, own, [(p.client_ref, p.application) for p in plans], as_of)
    return kpis.lead_times(plans, [kpis.Application(*a) for a in linked], first, last)


def _rows(
    code: str,
    name: str,
    now: kpis.Figures,
    before: kpis.Figures,
    targets: KpiTargets | None,
    common: dict[str, str],
) -> list[dict[str, Any]]:
    t = targets

    def unrounded(figures: kpis.Figures, kpi: str) -> float | None:
        return figures.ratios[kpi].value

    # Norms are decided on the unrounded values: 84.96 % does not meet 85 %.
    assessed = {
        "K1": kpis.lower_by(unrounded(now, "K1"), unrounded(before, "K1"), t.k1_reduction_pct if t else None),
        "K2": kpis.at_least(unrounded(now, "K2"), t.k2_min_pct if t else None),
        "K3": kpis.lower_by(unrounded(now, "K3"), unrounded(before, "K3"), t.k3_reduction_pct if t else None),
        "K4": kpis.at_least(unrounded(now, "K4"), unrounded(before, "K4")),
        "K5": kpis.at_least(unrounded(now, "K5"), t.k5_min_pct if t else None),
    }
    values = {
        "K1": (now.k1_days, before.k1_days, now.k1_basis),
        "K2": (now.k2_pct, before.k2_pct, now.k2_basis),
        "K3": (now.k3_mean_days, before.k3_mean_days, now.k3_basis),
        "K3_median": (now.k3_median_days, before.k3_median_days, now.k3_basis),
        "K4": (now.k4_pct, before.k4_pct, now.k4_outflow),
        "K5": (now.k5_pct, before.k5_pct, now.k5_decided),
        "K5_pending": (now.k5_pending, before.k5_pending, now.k5_pending),
        "inflow_rate": (now.inflow_pct, before.inflow_pct, round(now.rate_mean_stock)),
        "outflow_rate": (now.outflow_pct, before.outflow_pct, round(now.rate_mean_stock)),
    }
    rows = []
    for kpi, (value, last_year, basis) in values.items():
        norm, met = assessed.get(kpi, kpis.Assessment(None, None))
        ratio = now.ratios.get(kpi)
        rows.append(
            {
                "municipality": code,
                "municipality_name": name,
                "kpi": kpi,
                "kpi_label": LABEL[kpi],
                "definition": DEFINITIONS[kpi],
                "value": value,
                "last_year": last_year,
                "norm": None if norm is None else round(norm, 1),
                "met": met,
                "numerator": ratio.numerator if ratio else None,
                "denominator": ratio.denominator if ratio else None,
                "basis": basis,
                **common,
            }
        )
    return rows


async def _client_file(
    conn: AsyncConnection, benefits: Iterable[kpis.KpiBenefit], day: date, as_of: datetime | None
) -> kpis.ClientFile:
    """The latest assessment and progress report on `day` of the persons that may be in P(day)."""
    persons = [
        person.client_ref
        for b in benefits
        if b.regulation in kpis.KPI_REGULATIONS
        and active_on(b.start_date, b.end_date, day)
        and (person := kpis.person_on(b, day))
    ]
    return kpi_store.client_file(
        kpi_store.records_of(await queries.latest_on(conn, kpi_store.STANDING_RECORDS, persons, day, as_of))
    )


# Added to the source line while KPI cells wait for their restate.
STILL_RESTATING = "; de KPI's worden nog bijgewerkt en bevatten nog niet al deze gebeurtenissen"


async def _source(conn: AsyncConnection, as_of: datetime | None) -> str:
    """Where the figures come from and how far they reach: the as-of moment, else the newest
    recorded time the read models hold. The KPI cells follow the read models in a step of their
    own: while benefits or plans wait for theirs (a backlog), the line says so rather than claim
    the cells hold every event up to that moment."""
    waiting = await kpi_store.restating(conn, as_of)
    if as_of is None:
        known = [r.latest_recorded for r in await queries.freshness(conn) if r.latest_recorded]
        as_of = max(known) if known else None
    if as_of is None:
        return "Stroom, nog geen gebeurtenissen"
    line = f"Stroom, gebeurtenissen tot {as_of.isoformat()}"
    return f"{line}{STILL_RESTATING}" if waiting else line


def _rate_flows(monthly: Sequence[FlowTuple], months: Sequence[int]) -> dict[str, tuple[int, int]]:
    """Per municipality, the benefits started and ended in the months (the rates' numerators)."""
    flows: dict[str, tuple[int, int]] = {}
    for m, _, _, month, inflow, outflow in monthly:
        if months[0] <= month <= months[-1]:
            before = flows.get(m, (0, 0))
            flows[m] = (before[0] + inflow, before[1] + outflow)
    return flows


# The reasons are codes: a few hundred pairs at most, well within the cache.
@lru_cache(maxsize=1024)
def _door_reasons(detail: str) -> tuple[tuple[str, str], dict[str, Any]]:
    """A revolving door cell's detail (outflow reason|new inflow reason): the reasons, which order
    the rows, and a row of its door table with the reasons coded and the municipality and counts
    still to fill in, built once a process for each pair (labels and CBS codes are the code
    lists'). The row is shared: fill in a copy, never the row itself."""
    outflow, inflow = detail.split("|")
    return (outflow, inflow), {
        "municipality": "",
        "municipality_name": "",
        **coded("outflow_reason", "outflow", outflow, cbs_column="outflow_reason_cbs_code"),
        **coded("inflow_reason", "inflow", inflow, cbs_column="inflow_reason_cbs_code"),
        "within_6m": 0,
        "within_12m": 0,
    }


def _door_rows(parts: Sequence[tuple[str, str, dict[str, tuple[int, int]]]]) -> list[dict[str, Any]]:
    """The revolving door's rows: per part (municipality, its name, its cells by detail) a row for
    each pair of reasons with a return within 12 months, ordered by the reasons. The last part
    must hold every detail of the others (the organisation's total)."""
    # The pairs of every part are among the last's: ranked by their reasons once, not once a part.
    ranked = sorted(parts[-1][2], key=lambda detail: _door_reasons(detail)[0])
    rank = {detail: i for i, detail in enumerate(ranked)}
    rows = []
    for m, name, cells in parts:
        for detail in sorted((d for d, counts in cells.items() if counts[1]), key=rank.__getitem__):
            row = _door_reasons(detail)[1].copy()
            row["municipality"], row["municipality_name"] = m, name
            row["within_6m"], row["within_12m"] = cells[detail]
            rows.append(row)
    return rows


async def kpis_report(
    conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None
) -> Report:
    """Report 8: K1-K5, benchmark rates and the revolving door, for the months first..last and the
    same months a year earlier, against the organisation's targets of the last month's year; sums
    of the KPI cells (kpi_store) and of the monthly flows."""
    chosen = list(scope.municipalities)
    periods = ((first, last), (first - 100, last - 100))
    earlier = periods[1]
    # From the benchmark year before last year's period: the month ends every figure looks at.
    opening = min(earlier[0], next_month(earlier[1] - 100))
    day = last_day(last)
    report_day = report_date(as_of)
    regulations = sorted(kpis.KPI_REGULATIONS)
    summed, monthly = await queries.kpi_sheet_sums(
        conn, chosen, opening, periods, report_day, regulations, as_of
    )
    # Per part (0: the changes, 1 and 2: each period's flows) and municipality, its sums, and the
    # organisation's (TOTAL) added up as they come; the revolving door's (the first period's only)
    # apart: per municipality, outflow and new inflow.
    sums: dict[int, dict[str, kpi_cells.Sums]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    door: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for m, measure, month, detail, a, b, part in summed:
        if measure == kpi_cells.DOOR:
            door[m][detail] = (a, b)
            continue
        key = (month, detail)
        sums[part][m][measure][key] = (a, b)
        organisation = sums[part][kpis.TOTAL][measure]
        before = organisation.get(key)
        organisation[key] = (a, b) if before is None else (before[0] + a, before[1] + b)
    stock = kpis.MonthEnds.of_changes(
        (),
        ((m, month, inflow - outflow) for m, _, _, month, inflow, outflow in monthly),
        month_range(opening, last),
    )
    targets = scope.organisation.kpi_targets(last // 100)
    common = {
        "period": f"{format_month(first)} t/m {format_month(last)}",
        "stock_date": day.isoformat(),
        "source": await _source(conn, as_of),
    }
    parts = [(m, scope.names[m], {m}) for m in scope.municipalities]
    parts.append((kpis.TOTAL, "Totaal", set(scope.municipalities)))
    rated = [_rate_flows(monthly, kpis.rate_months(period[1])) for period in periods]
    rows: list[dict[str, Any]] = []
    for code, name, municipalities in parts:
        figures = []
        for index, period in enumerate(periods, 1):
            started, ended = (
                sum(flow[i] for m in municipalities if (flow := rated[index - 1].get(m))) for i in (0, 1)
            )
            counts = kpi_cells.sheet_counts(
                {**sums[0][code], **sums[index][code]},  # the changes and the flows: other measures
                *period,
                report_day,
                started,
                ended,
                stock.mean(stock.stock, kpis.rate_months(period[1]), municipalities),
            )
            figures.append(kpis.figures_of(counts))
        rows.extend(_rows(code, name, figures[0], figures[1], targets, common))
    total: dict[str, tuple[int, int]] = {}
    for m in chosen:
        for detail, (within_6m, within_12m) in door[m].items():
            before = total.get(detail, (0, 0))
            total[detail] = (before[0] + within_6m, before[1] + within_12m)
    door_rows = _door_rows(
        [*((m, scope.names[m], door[m]) for m in sorted(chosen)), (kpis.TOTAL, "Totaal", total)]
    )
    return Report.of_months(
        "kpis",
        "Kritieke prestatie-indicatoren",
        scope,
        (first, last),
        as_of,
        ReportTable("kpis", "KPI's met vorig jaar en norm", KPI_COLUMNS, rows),
        ReportTable("revolving_door", "Draaideur: terug in de uitkering", DOOR_COLUMNS, door_rows),
    )


TRACEABLE = ("K1", "K2", "K3", "K4", "K5", "inflow_rate", "outflow_rate")


def _ref(benefit: kpis.KpiBenefit, day: date, **extra: Any) -> dict[str, Any]:
    """A benefit and the person it stands for on `day`, or on its last day when it ended before."""
    if benefit.end_date is not None and benefit.end_date <= day:
        day = benefit.end_date - timedelta(days=1)
    person = kpis.person_on(benefit, day)
    return {"benefit_ref": benefit.entity, "client_ref": person.client_ref if person else None, **extra}


def _listed(benefits: Sequence[kpis.KpiBenefit], day: date) -> dict[str, Any]:
    return {"value": len(benefits), "refs": [_ref(b, day) for b in benefits]}


def _mean_of(ends: dict[int, list[kpis.KpiBenefit]]) -> dict[str, Any]:
    """A denominator that is a mean of month-end counts, with the refs counted at each end."""
    listed = [{"month": format_month(m), **_listed(found, last_day(m))} for m, found in ends.items()]
    return {"value": sum(len(found) for found in ends.values()) / len(ends), "month_ends": listed}


def _plan_ref(lead: kpis.LeadTime) -> dict[str, Any]:
    """A plan of K3 and the application it was linked to: keys and pseudonymous client ref only."""
    return {
        "plan_ref": lead.plan.ref,
        "client_ref": lead.plan.client_ref,
        "application_ref": lead.application.entity,
        "received_on": lead.application.received_on.isoformat(),
        "sent_on": lead.plan.sent_on.isoformat(),
        "days": lead.days,
    }


async def kpi_trace(
    conn: AsyncConnection, scope: Scope, kpi: str, first: int, last: int, as_of: datetime | None
) -> dict[str, Any]:
    """The pseudonymous refs behind one KPI's numerator and denominator, for the scope's
    municipalities together (one municipality, or the total over them), from the same rules as
    report 8: recomputed from them, they give its value."""
    own = [m.code for m in scope.organisation.municipalities]
    day = last_day(last)
    opening = min(first - 100, next_month(last - 200))
    spells = await queries.kpi_benefits(conn, own, first_day(opening), day + timedelta(days=366), as_of)
    benefits = kpi_store.benefits_of(spells)
    chosen = set(scope.municipalities)
    in_scope = [b for b in benefits if b.municipality in chosen]
    numerator: dict[str, Any]
    denominator: dict[str, Any]
    extra: dict[str, Any] = {}
    if kpi == "K3":
        lead = await _lead_times(conn, own, first_day(first), day, as_of)
        plans = [_plan_ref(t) for t in lead if t.application.municipality in chosen]
        numerator = {"value": sum(p["days"] for p in plans), "refs": plans}
        denominator = {
            "value": len(plans),
            "refs": [{k: v for k, v in p.items() if k != "days"} for p in plans],
        }
        days = sorted(p["days"] for p in plans)
        extra = {"median": statistics.median(days) if days else None}
    elif kpi == "K1":
        members = kpis.k1_members(
            kpis.population(in_scope, day, await _client_file(conn, benefits, day, as_of)), day
        )
        numerator = {"value": sum(d for _, d in members), "refs": [_ref(b, day, days=d) for b, d in members]}
        denominator = _listed([b for b, _ in members], day)
    elif kpi == "K2":
        clients = await _client_file(conn, benefits, day, as_of)
        mediable = kpis.k2_members(kpis.population(in_scope, day, clients), day, clients)
        numerator = _listed([b for b, current in mediable if current], day)
        denominator = _listed([b for b, _ in mediable], day)
    elif kpi == "K4":
        numerator = _listed(kpis.k4_outflows(in_scope, first, last), day)
        ends = {}
        for month in month_range(first, last):
            end = last_day(month)
            clients = await _client_file(conn, benefits, end, as_of)
            ends[month] = [b for b in in_scope if kpis.in_population(b, end, clients)]
        denominator = _mean_of(ends)
    elif kpi == "K5":
        report_day = report_date(as_of)
        outcomes = kpis.k5_outcomes(in_scope, first_day(first), day, report_day, kpis.Returns(benefits))
        numerator = _listed([b for b, outcome in outcomes if outcome == kpis.SUSTAINED], day)
        decided = [(b, o) for b, o in outcomes if o != kpis.PENDING]
        denominator = {"value": len(decided), "refs": [_ref(b, day, outcome=o) for b, o in decided]}
        extra = {"pending": _listed([b for b, o in outcomes if o == kpis.PENDING], day)}
    else:
        started, ended = kpis.rate_flows(in_scope, last)
        numerator = _listed(started if kpi == "inflow_rate" else ended, day)
        stock = [b for b in in_scope if b.regulation in kpis.KPI_REGULATIONS]
        denominator = _mean_of(
            {
                month: [b for b in stock if active_on(b.start_date, b.end_date, last_day(month))]
                for month in kpis.rate_months(last)
            }
        )
    ratio = kpis.Ratio(numerator["value"], denominator["value"], kpi not in ("K1", "K3"))
    return {
        "kpi": kpi,
        "kpi_label": LABEL[kpi],
        "municipalities": sorted(chosen),
        "period": f"{format_month(first)} t/m {format_month(last)}",
        "stock_date": day.isoformat(),
        "value": ratio.value,
        "numerator": numerator,
        "denominator": denominator,
        **extra,
    }
