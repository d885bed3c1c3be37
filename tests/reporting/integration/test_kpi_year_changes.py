"""P's, K1's and K2's month-end changes are also kept summed per year, and a current KPI sheet
reads the months before its period from those: with their month rows gone it stays the same. The
year sums follow the month totals batch by batch, after late facts and after a rebuild."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

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
from stroom_reporting.commands import migrate
from stroom_reporting.domain import kpi_cells
from stroom_reporting.repository import apply_facts

# A whole year and months around whole years; their openings lie after 2022, where the histories begin.
PERIODS = ((202501, 202512), (202503, 202508), (202411, 202602))


# Each example loads a history: a few, not shrunk (the seed reproduces a failure).
@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(0, 2**32))
async def test_a_sheet_reads_the_months_before_its_period_per_year(database_url: str, seed: int) -> None:
    await migrate(database_url)
    batches, late = history(random.Random(seed))
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await _wipe(conn)
    for batch in [*batches, late]:
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(batch), datetime.now(UTC))
        async with engine.connect() as conn:
            years = await _year_totals(conn, t.kpi_year_changes)
            assert years == _per_year((await _cells(conn))[1], kpi_cells.CHANGES)
    assert {measure for measure, *_ in years} == set(kpi_cells.CHANGES)
    assert {year for _, _, year, _ in years} >= {2022, 2023, 2024}
    async with engine.begin() as conn:
        await kpi_store.rebuild(conn, ORGANISATIONS)
    async with engine.connect() as conn:
        assert await _year_totals(conn, t.kpi_year_changes) == years
        sheets = {p: await materialised(conn, scope, *p, None) for p in PERIODS for scope in SCOPES}
    async with engine.begin() as conn:
        # 2022 lies wholly before every opening of the periods (September 2023 the earliest).
        m = t.kpi_totals.c
        before_2023 = (m.month < 202301, m.measure.in_(kpi_cells.CHANGES))
        gone = await conn.execute(delete(t.kpi_totals).where(*before_2023))
        assert gone.rowcount > 0
    async with engine.connect() as conn:
        assert {p: await materialised(conn, scope, *p, None) for p in PERIODS for scope in SCOPES} == sheets
    await engine.dispose()
