"""The migration that adds the late flow changes fills them from the spells already stored:
exactly what the projection keeps while applying the same facts."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import select

from reporting.changes import as_facts
from reporting.histories import random_history
from stroom_platform.db import alembic_config, make_engine
from stroom_reporting import tables as t
from stroom_reporting.commands import MIGRATIONS, migrate
from stroom_reporting.repository import apply_facts


def _net(rows: list[Any]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Per (key, month, recorded_at, lateness): the summed changes, those that cancel left out."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for *key, inflow, outflow in rows:
        acc = sums.setdefault(tuple(key), [0, 0])
        acc[0] += inflow
        acc[1] += outflow
    return {key: (i, o) for key, (i, o) in sums.items() if i or o}


async def test_migration_fills_late_flows_as_the_projection_keeps_them(database_url: str) -> None:
    await migrate(database_url)
    engine = make_engine(database_url)
    rng = random.Random(8)
    histories = [random_history(rng, f"benefit:rnd:{i}", 1, 4) for i in range(60)]
    # Two deliveries of older revisions first: the projection's changes then cancel in part.
    for revision in (1, 2):
        async with engine.begin() as conn:
            older = [h.model_copy(update={"versions": h.versions[:revision]}) for h in histories]
            await apply_facts(
                conn, as_facts(h.model_copy(update={"revision": revision}) for h in older), datetime.now(UTC)
            )
    async with engine.begin() as conn:
        await apply_facts(
            conn, as_facts(h.model_copy(update={"revision": 9}) for h in histories), datetime.now(UTC)
        )
    f = t.late_flows.c
    columns = (f.municipality, f.regulation, f.unit, f.month, f.recorded_at, f.lateness, f.inflow, f.outflow)
    try:
        async with engine.connect() as conn:
            kept = _net(list(await conn.execute(select(*columns))))
        assert len(kept) > 10

        config = alembic_config(MIGRATIONS.location, database_url)
        await asyncio.to_thread(command.downgrade, config, "scale01")
        await asyncio.to_thread(command.upgrade, config, "head")

        async with engine.connect() as conn:
            assert _net(list(await conn.execute(select(*columns)))) == kept
    finally:
        await engine.dispose()
