"""Rows appended to the shadow tables in bulk, on a connection of their own, behind the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Rows = Mapping[Table, Sequence[dict[str, Any]]]


class BulkWriter:
    """Each `append` is written (PostgreSQL: COPY; SQLite: INSERT) and committed while the caller
    prepares the next one, so that the database's work overlaps the rebuild's own. The shadow set
    is the rebuild's alone, and it need not fill in one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._pending: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, engine: AsyncEngine) -> AsyncIterator[BulkWriter]:
        async with engine.connect() as conn:
            writer = cls(conn)
            try:
                yield writer
            finally:
                await writer.flush()

    async def append(self, rows: Rows) -> None:
        await self.flush()
        self._pending = asyncio.create_task(self._write(rows))

    async def flush(self) -> None:
        """Wait for the last append: it is then visible to other connections."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def _write(self, rows: Rows) -> None:
        for table, values in rows.items():
            if not values:
                continue
            if self.conn.dialect.name == "postgresql":
                # Outside any SQLAlchemy transaction, so each COPY commits on its own.
                driver: Any = (await self.conn.get_raw_connection()).driver_connection
                columns = list(values[0])
                records = map(itemgetter(*columns), values)
                try:
                    await driver.copy_records_to_table(table.name, records=records, columns=columns)
                except asyncpg.UniqueViolationError:
                    # Another rebuild worker stored some of these first (a redelivery that came
                    # by on another partition): theirs are kept, as a worker keeps the first.
                    await self.conn.execute(postgresql.insert(table).on_conflict_do_nothing(), values)
            else:
                await self.conn.execute(insert(table), values)
        await self.conn.commit()
