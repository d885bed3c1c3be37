"""The sums kept per year beside the month totals: P's, K1's and K2's month-end changes
(reporting_kpi_year_changes) and the monthly flows (reporting_year_flows). Each follows its month
totals batch by batch and after late facts (the KPI changes also after a rebuild), and the current
KPI sheet and monthly report read the whole years before a period from them: with those years'
month rows gone, they stay the same."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reporting.changes import as_facts
from reporting.integration.test_kpi_materialised import (
    ORGANISATIONS,
    SCOPES,
    _cells,
    _per_year,
    _wipe,
    _year_totals,
    history,
    materialised,
)
from stroom_platform.db import make_engine
from stroom_reporting import kpi_store
from stroom_reporting import tables as t
from stroom_reporting.domain import kpi_cells
from stroom_reporting.repository import apply_facts
from stroom_reporting.service.reports import REGULATIONS, UNITS, monthly

# Whole years and months around them; the openings lie after 2022, where the histories begin, so
# 2022 is a whole year before each.
PERIODS = ((202501, 202512), (202503, 202508), (202411, 202602), (202401, 202412))

# Each example loads a history: a few, not shrunk (the seed reproduces a failure).
examples = settings(
    max_examples=2,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


async def _loaded(
    reporting_database: str, seed: int, check: Callable[[AsyncConnection], Awaitable[None]]
) -> AsyncEngine:
    """A random history loaded batch by batch, then its late facts, `check`ed after each."""
    batches, late = history(random.Random(seed))
    engine = make_engine(reporting_database)
    async with engine.begin() as conn:
        await _wipe(conn)
    for batch in [*batches, late]:
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(batch), datetime.now(UTC))
        async with engine.connect() as conn:
            await check(conn)
    return engine


async def _sheets(conn: AsyncConnection) -> list[Any]:
    return [await materialised(conn, scope, *p, None) for p in PERIODS for scope in SCOPES]


async def _monthly_reports(conn: AsyncConnection) -> list[Any]:
    reports = []
    for scope in SCOPES:
        for first, last in PERIODS:
            report = await monthly(conn, scope, REGULATIONS, UNITS, first, last, None)
            reports.append([table.rows for table in report.tables])
    return reports


@examples
@given(st.integers(0, 2**32))
async def test_a_sheet_reads_the_month_ends_before_its_period_per_year(
    reporting_database: str, seed: int
) -> None:
    async def year_changes(conn: AsyncConnection) -> None:
        years = await _year_totals(conn, t.kpi_year_changes)
        assert years == _per_year((await _cells(conn))[1], kpi_cells.CHANGES)

    engine = await _loaded(reporting_database, seed, year_changes)
    async with engine.connect() as conn:
        years = await _year_totals(conn, t.kpi_year_changes)
    # A seed whose history leaves a measure with no net change in any year says nothing of that
    # measure's years: another seed is drawn (hypothesis fails the test if most seeds are such).
    assume({measure for measure, *_ in years} == set(kpi_cells.CHANGES))
    assert {year for _, _, year, _ in years} >= {2022, 2023, 2024}
    async with engine.begin() as conn:
        await kpi_store.rebuild(conn, ORGANISATIONS)
    async with engine.connect() as conn:
        assert await _year_totals(conn, t.kpi_year_changes) == years
        sheets = await _sheets(conn)
    async with engine.begin() as conn:
        m = t.kpi_totals.c
        gone = await conn.execute(
            delete(t.kpi_totals).where(m.month < 202301, m.measure.in_(kpi_cells.CHANGES))
        )
        assert gone.rowcount > 0
    async with engine.connect() as conn:
        assert await _sheets(conn) == sheets
    await engine.dispose()


async def _flows(conn: AsyncConnection, table: Any, period: Any) -> Counter[tuple[Any, ...]]:
    """Inflow and outflow per municipality, regulation, unit and year, those not zero."""
    c = table.c
    summed: Counter[tuple[Any, ...]] = Counter()
    for municipality, regulation, unit, when, inflow, outflow in await conn.execute(
        select(c.municipality, c.regulation, c.unit, period(c), c.inflow, c.outflow)
    ):
        summed[(municipality, regulation, unit, when, "in")] += inflow
        summed[(municipality, regulation, unit, when, "out")] += outflow
    return +summed


@examples
@given(st.integers(0, 2**32))
async def test_a_report_reads_the_flows_before_its_period_per_year(
    reporting_database: str, seed: int
) -> None:
    async def year_flows(conn: AsyncConnection) -> None:
        years = await _flows(conn, t.year_flows, lambda c: c.year)
        assert years == await _flows(conn, t.monthly, lambda c: c.month // 100)

    engine = await _loaded(reporting_database, seed, year_flows)
    async with engine.connect() as conn:
        assert {key[3] for key in await _flows(conn, t.year_flows, lambda c: c.year)} >= {2022, 2023, 2024}
        reports = [await _monthly_reports(conn), await _sheets(conn)]
    async with engine.begin() as conn:
        gone = await conn.execute(delete(t.monthly).where(t.monthly.c.month < 202301))
        assert gone.rowcount > 0
    async with engine.connect() as conn:
        assert [await _monthly_reports(conn), await _sheets(conn)] == reports
    await engine.dispose()
