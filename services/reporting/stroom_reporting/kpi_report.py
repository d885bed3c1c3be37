"""Report 8, KPIs: fetch the inputs, compute them per municipality and for the organisation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.organisations import KpiTargets
from stroom_reporting import repository
from stroom_reporting.domain import kpis
from stroom_reporting.domain.families import active_on
from stroom_reporting.domain.months import first_day, last_day, month_range, next_month
from stroom_reporting.reports import LABELS, Report, ReportTable, Scope

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
KPI_COLUMNS = [
    "municipality",
    "municipality_name",
    "kpi",
    "kpi_label",
    "value",
    "last_year",
    "norm",
    "met",
    "basis",
]
DOOR_COLUMNS = [
    "municipality",
    "municipality_name",
    "outflow_reason",
    "inflow_reason",
    "within_6m",
    "within_12m",
]


def _benefits(rows: Iterable[Any]) -> list[kpis.KpiBenefit]:
    """Spell rows ordered by entity (`benefits` before `persons`) to one KpiBenefit each."""
    result = []
    for entity, spells in groupby(rows, key=lambda r: r.entity):
        group = list(spells)
        b = group[0]
        if b.unit != "benefits":
            continue
        members = tuple((p.client_ref, p.start_date, p.end_date) for p in group[1:])
        result.append(
            kpis.KpiBenefit(
                entity,
                b.municipality,
                b.regulation,
                b.start_date,
                b.end_date,
                b.inflow_reason,
                b.outflow_reason,
                b.client_ref,
                b.birth_date,
                members,
            )
        )
    return result


def _clients(records: Sequence[Any]) -> kpis.ClientFile:
    return kpis.ClientFile.of(
        (
            (r.client_ref, r.on_date, r.record_id, r.client_stream, bool(r.work_obligation_exempt))
            for r in records
            if r.type == "assessment"
        ),
        (
            (r.client_ref, r.on_date, r.record_id, bool(orjson.loads(r.payload).get("long_trajectory")))
            for r in records
            if r.type == "progress_report"
        ),
    )


def _plans(rows: Iterable[Any]) -> list[kpis.Plan]:
    plans = []
    for r in rows:
        ref = orjson.loads(r.payload).get("application_ref")
        # A plan names the application by the case system's ref; applications are keyed by source too.
        source = r.record_id.split("|", 1)[0]
        plans.append(kpis.Plan(r.client_ref, r.on_date, f"application:{source}:{ref}" if ref else None))
    return plans


def _rows(
    code: str, name: str, now: kpis.Figures, before: kpis.Figures, targets: KpiTargets | None
) -> list[dict[str, Any]]:
    t = targets
    assessed = {
        "K1": kpis.lower_by(now.k1_days, before.k1_days, t.k1_reduction_pct if t else None),
        "K2": kpis.at_least(now.k2_pct, t.k2_min_pct if t else None),
        "K3": kpis.lower_by(now.k3_mean_days, before.k3_mean_days, t.k3_reduction_pct if t else None),
        "K4": kpis.at_least(now.k4_pct, before.k4_pct),
        "K5": kpis.at_least(now.k5_pct, t.k5_min_pct if t else None),
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
        rows.append(
            {
                "municipality": code,
                "municipality_name": name,
                "kpi": kpi,
                "kpi_label": LABEL[kpi],
                "value": value,
                "last_year": last_year,
                "norm": norm,
                "met": met,
                "basis": basis,
            }
        )
    return rows


async def _client_file(
    conn: AsyncConnection, benefits: Iterable[kpis.KpiBenefit], day: date, as_of: datetime | None
) -> kpis.ClientFile:
    """The latest assessment and progress report on `day` of the applicants that may be in P(day)."""
    applicants = [
        b.applicant
        for b in benefits
        if b.applicant and b.regulation in kpis.KPI_REGULATIONS and active_on(b.start_date, b.end_date, day)
    ]
    return _clients(
        await repository.latest_on(conn, ("assessment", "progress_report"), applicants, day, as_of)
    )


async def _month_ends(
    conn: AsyncConnection, municipalities: list[str], first: int, last: int, as_of: datetime | None
) -> kpis.MonthEnds:
    regulations = sorted(kpis.KPI_REGULATIONS)
    population = await repository.kpi_population_changes(
        conn, municipalities, regulations, first, last, as_of
    )
    flows = await repository.flows(conn, municipalities, regulations, ("benefits",), first, last, as_of)
    stock = ((m, month, inflow - outflow) for m, _, _, month, inflow, outflow in flows)
    return kpis.MonthEnds.of_changes(population, stock, month_range(first, last))


async def kpis_report(
    conn: AsyncConnection, scope: Scope, first: int, last: int, as_of: datetime | None
) -> Report:
    """Report 8: K1-K5, benchmark rates and the revolving door, for the months first..last and the
    same months a year earlier, against the organisation's targets of the last month's year."""
    own = [m.code for m in scope.organisation.municipalities]
    periods = ((first, last), (first - 100, last - 100))
    earlier = periods[1]
    day = last_day(last)
    # Benefits that matter: from the benchmark year before last year's period up to the returns
    # (12 months) after this period.
    opening = min(earlier[0], next_month(earlier[1] - 100))
    spells = await repository.kpi_benefits(conn, own, first_day(opening), day + timedelta(days=366), as_of)
    benefits = _benefits(spells)
    clients = {period: await _client_file(conn, benefits, last_day(period[1]), as_of) for period in periods}
    plans = _plans(await repository.plans_sent(conn, first_day(earlier[0]), day, as_of))
    linked = await repository.kpi_applications(
        conn, own, [(p.client_ref, p.application) for p in plans], day, as_of
    )
    applications = [kpis.Application(*a) for a in linked]
    returns = kpis.Returns(benefits)
    report_day = as_of.date() if as_of else date.today()
    lead = {
        period: kpis.lead_times(plans, applications, first_day(period[0]), last_day(period[1]))
        for period in periods
    }
    targets = scope.organisation.kpi_targets(last // 100)
    counts = await _month_ends(conn, own, opening, last, as_of)
    parts = [(m, scope.names[m], {m}) for m in scope.municipalities]
    parts.append((kpis.TOTAL, "Totaal", set(scope.municipalities)))
    rows: list[dict[str, Any]] = []
    # Per period, the benefits its figures count: active on its last day, or started or ended since
    # the start of its months or of the 12 months before its end (benchmark rates).
    relevant = {}
    for period in periods:
        since, until = first_day(min(period[0], next_month(period[1] - 100))), last_day(period[1])
        relevant[period] = [
            b for b in benefits if b.start_date <= until and (b.end_date is None or b.end_date >= since)
        ]
    for code, name, municipalities in parts:
        figures = [
            kpis.figures(
                [b for b in relevant[period] if b.municipality in municipalities],
                [days for m, days in lead[period] if m in municipalities],
                *period,
                clients[period],
                returns,
                report_day,
                counts,
                municipalities,
            )
            for period in periods
        ]
        rows.extend(_rows(code, name, figures[0], figures[1], targets))
    in_scope = [b for b in benefits if b.municipality in set(scope.municipalities)]
    door = kpis.revolving_door(in_scope, first_day(first), day, returns)
    door_rows = []
    for m, outflow, inflow in sorted({k[:3] for k in door}):
        door_rows.append(
            {
                "municipality": m,
                "municipality_name": scope.names[m],
                "outflow_reason": LABELS["outflow"].get(outflow, "Onbekend"),
                "inflow_reason": LABELS["inflow"].get(inflow, "Onbekend"),
                "within_6m": door[(m, outflow, inflow, 6)],
                "within_12m": door[(m, outflow, inflow, 12)],
            }
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
