"""The shadow set emptied for a rebuild, and finished once filled: its indexes and statistics."""

from __future__ import annotations

import asyncio

from sqlalchemy import Table, delete, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateIndex, DropIndex

from stroom_caseload.tables import shadow
from stroom_platform.dialect import is_postgres, writers

# PostgreSQL builds an index over a filled table by sorting it once, far cheaper than keeping it
# up to date row by row while the rebuild appends: so the shadow set is filled with its primary
# keys only (they settle redeliveries), and gets its other indexes, from the same definitions the
# migration made, once it is complete. A rebuild cut off in between starts with `empty` again.


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if not is_postgres(conn):
            for table in shadow.all:
                await conn.execute(delete(table))
            return
        # After a swap by renaming, the shadow set holds the previous live rows.
        await conn.execute(text(f"TRUNCATE {', '.join(t.name for t in shadow.all)}"))
        for table in shadow.all:
            for index in table.indexes:
                await conn.execute(DropIndex(index, if_exists=True))


async def finish(engine: AsyncEngine, connections: int) -> None:
    """Indexes (PostgreSQL) and planner statistics for every shadow table, the largest first,
    on `connections` connections side by side: the catch-up and the queries once live are
    planned on them."""
    large = (shadow.events, shadow.client_facts, shadow.members)
    tables: list[Table] = sorted(shadow.all, key=lambda table: table not in large)
    postgres = is_postgres(engine)

    async def work() -> None:
        async with engine.begin() as conn:
            while tables:
                table = tables.pop(0)
                for index in table.indexes if postgres else ():
                    await conn.execute(CreateIndex(index, if_not_exists=True))
                await conn.execute(text(f"ANALYZE {table.name}"))

    await asyncio.gather(*(work() for _ in range(writers(engine, connections))))
