"""The shadow set emptied for a rebuild, and finished once filled: its indexes and statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.tables import shadow
from stroom_contract.events import EVENT_TYPES
from stroom_platform.dialect import empty_for_loading, finish_loading, writers

# The shadow set is filled with its primary keys only (they settle redeliveries) where the
# database builds indexes cheaper over a filled table, and gets its other indexes, from the same
# definitions the migration made, once it is complete (see `empty_for_loading`). After a swap by
# renaming it holds the previous live rows; a rebuild cut off in between starts with `empty` again.


# The ledger's events and the entities' facts as JSON: read whole by key, never searched.
_DOCUMENTS = (shadow.events.c.wire, shadow.entities.c.fact)
# Read by their keys (an event by its source and id or its entity, an entity by its key) and by
# kind (an event's type): analysed for a statistics target of twice the event types (a sample of
# 9,000 rows instead of 30,000 for 15 types), which still holds every type among the most common
# values the swap's join of client events is planned on. The state tables and the client facts
# are counted by municipality, recorded time and dates: from a smaller sample their plans (as of
# a moment, per coach) changed.
_KEYED = (shadow.events, shadow.entities)
_KEYED_TARGET = 2 * len(EVENT_TYPES)


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
                documents = [c for c in _DOCUMENTS if c.table is table]
                target = _KEYED_TARGET if table in _KEYED else None
                await finish_loading(conn, table, documents, target)

    await asyncio.gather(*(work() for _ in range(writers(engine, connections))))
