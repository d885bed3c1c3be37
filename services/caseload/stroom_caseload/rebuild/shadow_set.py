"""The shadow set emptied for a rebuild, and finished once filled: its indexes and statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.tables import shadow
from stroom_platform.dialect import empty_for_loading, finish_loading, writers

# The shadow set is filled with its primary keys only (they settle redeliveries) where the
# database builds indexes cheaper over a filled table, and gets its other indexes, from the same
# definitions the migration made, once it is complete (see `empty_for_loading`). After a swap by
# renaming it holds the previous live rows; a rebuild cut off in between starts with `empty` again.


# The ledger's events and the entities' facts as JSON: read whole by key, never searched.
_DOCUMENTS = (shadow.events.c.wire, shadow.entities.c.fact)


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await empty_for_loading(conn, shadow.all)


async def finish(engine: AsyncEngine, connections: int, tables: Sequence[Table] = shadow.all) -> None:
    """Indexes and planner statistics for `tables`, the largest first, on `connections`
    connections side by side: the catch-up and the queries once live are planned on them."""
    large = (shadow.events, shadow.client_facts, shadow.members)
    waiting = sorted(tables, key=lambda table: table not in large)
    if not waiting:
        return

    async def work() -> None:
        async with engine.begin() as conn:
            while waiting:
                table = waiting.pop(0)
                await finish_loading(conn, table, [c for c in _DOCUMENTS if c.table is table])

    await asyncio.gather(*(work() for _ in range(writers(engine, connections))))
