"""The KPI cells restated behind the facts: batches applied with their restates left pending,
then restated together at random points, give the cells, totals and year sums that restating each
batch in its own transaction gives, and what waits is kept in the database until restated."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from reporting.changes import as_facts
from reporting.integration.test_kpi_materialised import (
    ORGANISATIONS,
    _cells,
    _people,
    _wipe,
    _year_totals,
    history,
)
from stroom_contract.facts import Fact
from stroom_platform import dialect
from stroom_platform.db import make_engine
from stroom_reporting import tables as t
from stroom_reporting.repository import apply_facts, reclaim_pending, restate_kpis, restate_kpis_apart


async def _state(engine: AsyncEngine) -> tuple[object, ...]:
    async with engine.connect() as conn:
        return (
            await _cells(conn),
            await _year_totals(conn),
            await _year_totals(conn, t.kpi_year_changes),
            await _people(conn),
        )


async def _generation(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(t.generation.c.generation)) or 0)


async def _pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(t.kpi_pending)) or 0)


# Each example loads a history twice: a few, not shrunk (the seed reproduces a failure).
@settings(
    max_examples=3,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(0, 2**32))
async def test_restating_behind_the_facts_equals_restating_each_batch(
    reporting_database: str, seed: int
) -> None:
    rng = random.Random(seed)
    batches, late = history(rng)
    # Smaller batches than the history's three: a benefit's facts fall into several of them.
    facts: list[Fact] = [f for batch in (*batches, late) for f in batch]
    small = [facts[i : i + 40] for i in range(0, len(facts), 40)]
    engine = make_engine(reporting_database)
    try:
        async with engine.begin() as conn:
            await _wipe(conn)
        for batch in small:
            async with engine.begin() as conn:
                await apply_facts(conn, as_facts(batch), datetime.now(UTC), ORGANISATIONS)
        assert await _pending(engine) == 0
        each_batch = await _state(engine)
        assert all(each_batch)

        async with engine.begin() as conn:
            await _wipe(conn)
        restated = 0
        for i, batch in enumerate(small):
            async with engine.begin() as conn:
                await apply_facts(conn, as_facts(batch), datetime.now(UTC), ORGANISATIONS, restate=False)
            # What a restate reads is in the database, not in the process that applied the batch.
            assert await _pending(engine) > 0
            if rng.random() < 0.2 or i == len(small) - 1:
                before = await _generation(engine)
                async with engine.begin() as conn:
                    restated += await restate_kpis(conn, ORGANISATIONS)
                assert await _pending(engine) == 0
                # Answers kept under the generation before are not served for the new cells.
                assert await _generation(engine) == before + 1
        assert restated > 150
        assert await _state(engine) == each_batch
        # Nothing pending: nothing restated, the generation and the answers kept stand.
        before = await _generation(engine)
        async with engine.begin() as conn:
            assert await restate_kpis(conn, ORGANISATIONS) == 0
        assert await _generation(engine) == before
    finally:
        await engine.dispose()


async def test_cells_wait_until_restated(reporting_database: str) -> None:
    rng = random.Random(7)
    batches, _ = history(rng)
    engine = make_engine(reporting_database)
    try:
        async with engine.begin() as conn:
            await _wipe(conn)
            await apply_facts(conn, as_facts(batches[0]), datetime.now(UTC), ORGANISATIONS, restate=False)
        assert await _pending(engine) > 0
        # The facts are in; their KPI cells are not yet.
        cells, totals = (await _state(engine))[0]
        assert (cells, totals) == ({}, {})
        async with engine.begin() as conn:
            assert await restate_kpis(conn, ORGANISATIONS) > 0
        cells, totals = (await _state(engine))[0]
        assert cells
        assert totals
    finally:
        await engine.dispose()


async def _queue_bytes(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        size = await conn.scalar(text(f"SELECT pg_relation_size('{t.kpi_pending.name}')"))
        return int(size or 0)


async def test_a_reclaim_frees_the_space_of_what_was_restated(reporting_database: str) -> None:
    batches, _ = history(random.Random(7))
    engine = make_engine(reporting_database)
    postgres = dialect.is_postgres(engine)
    try:
        async with engine.begin() as conn:
            await _wipe(conn)
            await apply_facts(conn, as_facts(batches[0]), datetime.now(UTC), ORGANISATIONS, restate=False)
        assert await restate_kpis_apart(engine, ORGANISATIONS) > 0
        assert await _pending(engine) == 0
        # PostgreSQL keeps the deleted rows in the table until a VACUUM.
        if postgres:
            assert await _queue_bytes(engine) > 0
        await reclaim_pending(engine)
        if postgres:
            assert await _queue_bytes(engine) == 0
        # The queue works on: what the next batch leaves waits, kept, until restated.
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(batches[1]), datetime.now(UTC), ORGANISATIONS, restate=False)
        assert await _pending(engine) > 0
        assert await restate_kpis_apart(engine, ORGANISATIONS) > 0
        assert await _pending(engine) == 0
    finally:
        await engine.dispose()
