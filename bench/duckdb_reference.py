"""DuckDB over the raw NDJSON events: the baseline the reporting bench compares Stroom with.

The same figures computed from scratch on every query, straight from the file of pseudonymised
events: the organisation's monthly table and its KPI sheet by reports-v1's definitions. The
KPI query relies on what the bench's histories hold and says so where it does: one member per
benefit (the applicant, never leaving), no members_changed, retractions or duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb

from stroom_reporting.domain import kpis
from stroom_reporting.domain.months import first_day, last_day, month_range

# The queries are built from this module's constants only, never from input.
# Typed, so DuckDB reads the file once without sampling it for a schema.
_DATA = ", ".join(
    f"{name} {kind}"
    for name, kind in {
        "benefit_ref": "VARCHAR",
        "municipality": "VARCHAR",
        "regulation": "VARCHAR",
        "start_date": "DATE",
        "end_date": "DATE",
        "inflow_reason": "VARCHAR",
        "outflow_reason": "VARCHAR",
        "members": "STRUCT(client_ref VARCHAR, role VARCHAR, birth_date DATE)[]",
        "application_ref": "VARCHAR",
        "client": "STRUCT(client_ref VARCHAR)",
        "received_on": "DATE",
        "decision": "VARCHAR",
        "decided_on": "DATE",
        "assessed_on": "DATE",
        "ladder_step": "INTEGER",
        "client_stream": "VARCHAR",
        "work_obligation_exempt": "BOOLEAN",
        "plan_ref": "VARCHAR",
        "sent_on": "DATE",
        "recorded_on": "DATE",
        "long_trajectory": "BOOLEAN",
    }.items()
)
_EVENTS = (
    "SELECT * FROM read_json(?, format='newline_delimited', "  # noqa: S608
    f"columns={{id: 'VARCHAR', type: 'VARCHAR', time: 'TIMESTAMPTZ', data: 'STRUCT({_DATA})'}})"
)

MONTHLY_SQL = f"""
WITH ev AS ({_EVENTS}),
started AS (SELECT data.benefit_ref AS ref, data.municipality AS m, data.regulation AS r,
                   data.start_date AS s FROM ev WHERE type = 'stroom.benefit.started.v1'),
ended AS (SELECT data.benefit_ref AS ref, data.end_date AS e FROM ev
          WHERE type = 'stroom.benefit.ended.v1'),
b AS (SELECT m, r, s, e FROM started LEFT JOIN ended USING (ref)),
f AS (SELECT m, r, date_trunc('month', s) AS mo, 1 AS i, 0 AS o FROM b
      UNION ALL SELECT m, r, date_trunc('month', e), 0, 1 FROM b WHERE e IS NOT NULL),
g AS (SELECT m, r, mo, sum(i) AS inflow, sum(o) AS outflow FROM f GROUP BY ALL)
SELECT m, r, mo, inflow, outflow,
       sum(inflow - outflow) OVER (PARTITION BY m, r ORDER BY mo) AS stock
FROM g WHERE mo BETWEEN DATE '2020-01-01' AND DATE '2024-12-01' ORDER BY m, r, mo
"""  # noqa: S608

_REGULATIONS = ", ".join(f"'{r}'" for r in sorted(kpis.KPI_REGULATIONS))
_WORK = ", ".join(f"'{r}'" for r in sorted(kpis.WORK))
# A municipality's row, or the organisation's (GROUPING SETS leave m NULL there).
_SCOPE = f"coalesce(m, '{kpis.TOTAL}') AS m"
_WORK_OR_EDUCATION = ", ".join(f"'{r}'" for r in sorted(kpis.WORK_OR_EDUCATION))

# Per period (p: first day f, last day l, the benchmark rates' first day rf) and municipality
# ('*': the organisation) the counts each KPI is a ratio of; `ends` lists the month ends that K4
# (k4) and the benchmark rates (rate) average over.
KPI_SQL = f"""
WITH ev AS ({_EVENTS}),
periods AS (SELECT * FROM (VALUES __PERIODS__) AS v(p, f, l, rf)),
ends AS (SELECT * FROM (VALUES __ENDS__) AS v(p, d, k4, rate)),
started AS (SELECT data.benefit_ref AS ref, data.municipality AS m, data.regulation AS r,
                   data.start_date AS s, data.members[1].client_ref AS client,
                   data.members[1].birth_date AS born
            FROM ev WHERE type = 'stroom.benefit.started.v1'),
ended AS (SELECT data.benefit_ref AS ref, data.end_date AS e, data.outflow_reason AS outflow
          FROM ev WHERE type = 'stroom.benefit.ended.v1'),
b AS (SELECT * FROM started LEFT JOIN ended USING (ref)),
kb AS (SELECT * FROM b WHERE r IN ({_REGULATIONS})),
-- Of one day's records the one recorded last counts.
a AS (SELECT data.client.client_ref AS client, data.assessed_on AS d, data.client_stream AS stream,
             data.work_obligation_exempt AS exempt
      FROM ev WHERE type = 'stroom.client.assessed.v1'
      QUALIFY row_number() OVER (PARTITION BY client, d ORDER BY time DESC, id DESC) = 1),
pr AS (SELECT data.client.client_ref AS client, data.recorded_on AS d,
              coalesce(data.long_trajectory, false) AS long
       FROM ev WHERE type = 'stroom.progress_report.recorded.v1'
       QUALIFY row_number() OVER (PARTITION BY client, d ORDER BY time DESC, id DESC) = 1),
active AS (SELECT ends.*, kb.m, kb.client, kb.s, kb.born FROM ends
           JOIN kb ON kb.s <= ends.d AND (kb.e IS NULL OR kb.e > ends.d)),
assessed AS (SELECT x.*, a.stream, coalesce(a.stream = 'care' OR a.exempt, false) AS care
             FROM active x ASOF LEFT JOIN a ON x.client = a.client AND x.d >= a.d),
population_ends AS (
    SELECT p, {_SCOPE}, count_if(k4 AND NOT care) AS k4_population,
           count_if(rate) AS rate_stock
    FROM assessed GROUP BY GROUPING SETS ((p, m), (p))),
-- P(D) on each period's last day, with the age (full years) on D.
pd AS (SELECT x.*, year(x.d) - year(x.born)
                   - CASE WHEN strftime(x.d, '%m%d') < strftime(x.born, '%m%d') THEN 1 ELSE 0 END AS age
       FROM assessed x JOIN periods USING (p) WHERE x.d = periods.l AND NOT x.care),
reported AS (SELECT x.*, pr.d AS report_on, pr.long FROM pd x
             ASOF LEFT JOIN pr ON x.client = pr.client AND x.d >= pr.d),
k1k2 AS (
    SELECT p, {_SCOPE},
           sum(CASE WHEN age < 60 THEN d - s END) AS k1_days, count_if(age < 60) AS k1_basis,
           count_if(stream = 'mediable' AND report_on >= CAST(
               d - CASE WHEN long OR age >= 60 THEN INTERVAL 12 MONTH ELSE INTERVAL 3 MONTH END
               AS DATE)) AS k2_current,
           count_if(stream = 'mediable') AS k2_basis
    FROM reported GROUP BY GROUPING SETS ((p, m), (p))),
applications AS (SELECT data.application_ref AS ref, data.client.client_ref AS client,
                        data.municipality AS m, data.received_on AS received
                 FROM ev WHERE type = 'stroom.application.received.v1'),
plans AS (SELECT periods.p, periods.l, data.client.client_ref AS client, data.sent_on AS sent,
                 data.application_ref AS named
          FROM ev JOIN periods ON data.sent_on BETWEEN periods.f AND periods.l
          WHERE type = 'stroom.plan.sent.v1'),
-- The named application, else the client's latest received on or before the plan was sent;
-- only applications received by the period's end count, as the report reads them.
linked AS (
    SELECT plans.p, coalesce(n.m, latest.m) AS m, plans.sent - coalesce(n.received, latest.received) AS days
    FROM plans
    LEFT JOIN applications n ON n.ref = plans.named AND n.received <= plans.l
    ASOF LEFT JOIN applications latest ON latest.client = plans.client AND plans.sent >= latest.received),
k3 AS (SELECT p, {_SCOPE}, sum(days) AS k3_days, count(days) AS k3_basis,
              median(days) AS k3_median
       FROM linked WHERE days IS NOT NULL GROUP BY GROUPING SETS ((p, m), (p))),
outflows AS (
    SELECT periods.p, kb.m, kb.outflow IN ({_WORK_OR_EDUCATION}) AS k4,
           kb.outflow IN ({_WORK}) AS k5,
           kb.e + {kpis.SIX_MONTHS} > ?::DATE AS pending,
           EXISTS (SELECT 1 FROM b AS back WHERE back.client = kb.client AND back.ref <> kb.ref
                   AND back.s BETWEEN kb.e AND kb.e + {kpis.SIX_MONTHS}) AS returned
    FROM kb JOIN periods ON kb.e BETWEEN periods.f AND periods.l),
k4k5 AS (
    SELECT p, {_SCOPE}, count_if(k4) AS k4_outflow,
           count_if(k5 AND NOT pending AND NOT returned) AS k5_sustained,
           count_if(k5 AND NOT pending) AS k5_decided, count_if(k5 AND pending) AS k5_pending
    FROM outflows GROUP BY GROUPING SETS ((p, m), (p))),
flows AS (
    SELECT periods.p, kb.m, kb.s BETWEEN periods.rf AND periods.l AS started,
           coalesce(kb.e BETWEEN periods.rf AND periods.l, false) AS ended
    FROM periods JOIN kb ON kb.s <= periods.l AND (kb.e IS NULL OR kb.e >= periods.rf)),
rates AS (SELECT p, {_SCOPE}, count_if(started) AS started, count_if(ended) AS ended
          FROM flows GROUP BY GROUPING SETS ((p, m), (p)))
SELECT p, m, k1_days, k1_basis, k2_current, k2_basis,
       k3_days, k3_basis, k3_median, k4_outflow, k4_population, k5_sustained, k5_decided,
       k5_pending, started, ended, rate_stock
FROM population_ends
FULL JOIN k1k2 USING (p, m) FULL JOIN k3 USING (p, m) FULL JOIN k4k5 USING (p, m)
FULL JOIN rates USING (p, m)
"""  # noqa: S608


def kpi_sql(periods: dict[str, tuple[int, int]]) -> str:
    """The KPI query for named periods (first and last month, yyyymm), with their month ends."""
    rows = ", ".join(
        f"('{name}', DATE '{first_day(first)}', DATE '{last_day(last)}', DATE '{rates_from}')"
        for name, (first, last) in periods.items()
        if (rates_from := first_day(kpis.rate_months(last)[0]))
    )
    ends = []
    for name, (first, last) in periods.items():
        k4_months = set(month_range(first, last))
        rate_months = set(kpis.rate_months(last))
        for month in sorted(k4_months | rate_months):
            ends.append(f"('{name}', DATE '{last_day(month)}', {month in k4_months}, {month in rate_months})")
    return KPI_SQL.replace("__PERIODS__", rows).replace("__ENDS__", ", ".join(ends))


def kpi_counts(
    connection: duckdb.DuckDBPyConnection, path: str, periods: dict[str, tuple[int, int]], report_day: date
) -> dict[tuple[str, str], dict[str, float | None]]:
    """(period, municipality or '*') -> the counts of `KPI_SQL`, from the raw file."""
    # DuckDB guesses a JSON file holds a few dozen rows and would then run the ASOF joins as
    # nested loops (ten times slower at 100,000 events): the baseline is DuckDB at its best.
    connection.execute("SET asof_loop_join_threshold = 0")
    result = connection.execute(kpi_sql(periods), [path, report_day])
    names = [column[0] for column in result.description]
    return {(row[0], row[1]): dict(zip(names[2:], row[2:], strict=True)) for row in result.fetchall()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def kpi_values(counts: dict[str, float | None], months: int) -> dict[str, float | None]:
    """The sheet's displayed values from the counts, rounded as Stroom rounds them (in Python,
    so a difference is one of counting, never of rounding)."""

    def n(key: str) -> float:
        return float(counts.get(key) or 0)

    stock = n("rate_stock") / 12
    k4_mean = n("k4_population") / months
    return {
        "K1": _round(kpis.Ratio(n("k1_days"), n("k1_basis"), False).value),
        "K2": _round(kpis.Ratio(n("k2_current"), n("k2_basis"), True).value),
        "K3": _round(kpis.Ratio(n("k3_days"), n("k3_basis"), False).value),
        "K3_median": _round(counts.get("k3_median")),
        "K4": _round(kpis.Ratio(n("k4_outflow"), k4_mean, True).value),
        "K5": _round(kpis.Ratio(n("k5_sustained"), n("k5_decided"), True).value),
        "K5_pending": n("k5_pending"),
        "inflow_rate": _round(kpis.Ratio(n("started"), stock, True).value),
        "outflow_rate": _round(kpis.Ratio(n("ended"), stock, True).value),
    }


def differences(
    stroom_rows: list[dict[str, object]], duck: dict[tuple[str, str], dict[str, float | None]], months: int
) -> Iterator[str]:
    """Every KPI value (this period and last year's) on which Stroom's sheet and DuckDB differ."""
    for row in stroom_rows:
        municipality, kpi = str(row["municipality"]), str(row["kpi"])
        for period, column in (("now", "value"), ("last_year", "last_year")):
            expected = kpi_values(duck.get((period, municipality), {}), months)[kpi]
            found = row[column]
            if found != expected:
                yield f"{municipality} {kpi} {column}: Stroom {found}, DuckDB {expected}"
