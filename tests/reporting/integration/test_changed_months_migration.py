"""The migration that folds reporting_changes into reporting_monthly keeps when each month's flows
were last restated, and changes01's table (downgrade) gets them back."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import select, text

from reporting.changes import as_facts
from reporting.histories import random_history
from stroom_platform.db import alembic_config, make_engine
from stroom_platform.dialect import UtcDateTime
from stroom_reporting import queries
from stroom_reporting import tables as t
from stroom_reporting.commands import MIGRATIONS, migrate
from stroom_reporting.repository import apply_facts


async def test_changed_at_survives_the_migration_both_ways(database_url: str) -> None:
    await migrate(database_url)
    engine = make_engine(database_url)
    rng = random.Random(3)
    histories = [random_history(rng, f"benefit:rnd:{i}", 1, 4) for i in range(40)]
    first, later = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            older = [h.model_copy(update={"versions": h.versions[:1]}) for h in histories]
            await apply_facts(conn, as_facts(h.model_copy(update={"revision": 1}) for h in older), first)
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(h.model_copy(update={"revision": 9}) for h in histories), later)
        m = t.monthly.c
        async with engine.connect() as conn:
            municipalities = list((await conn.execute(select(m.municipality).distinct())).scalars())
            kept = sorted(
                map(
                    tuple,
                    await conn.execute(select(m.municipality, m.regulation, m.unit, m.month, m.changed_at)),
                )
            )
            since_first = [tuple(r) for r in await queries.changed_months(conn, municipalities, first)]
        # Both moments among the months, and only the later one's after the first batch.
        assert {row[-1] for row in kept} == {first, later}
        assert since_first == sorted(
            (row for row in kept if row[-1] == later), key=lambda r: (r[0], r[3], r[1], r[2])
        )

        config = alembic_config(MIGRATIONS.location, database_url)
        await asyncio.to_thread(command.downgrade, config, "changes01")
        async with engine.connect() as conn:
            back = sorted(
                map(
                    tuple,
                    await conn.execute(
                        text("SELECT * FROM reporting_changes").columns(changed_at=UtcDateTime())
                    ),
                )
            )
        assert back == kept
        await asyncio.to_thread(command.upgrade, config, "head")

        async with engine.connect() as conn:
            again = sorted(
                map(
                    tuple,
                    await conn.execute(select(m.municipality, m.regulation, m.unit, m.month, m.changed_at)),
                )
            )
            assert again == kept
            assert [
                tuple(r)
                for r in await queries.changed_months(conn, municipalities, first - timedelta(days=1))
            ] == sorted(kept, key=lambda r: (r[0], r[3], r[1], r[2]))
    finally:
        await engine.dispose()
