"""Rows appended to the shadow tables in bulk, on a connection of their own, behind the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import Table, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Rows = Mapping[Table, Sequence[dict[str, Any]]]
# Rows of one table as tuples of the named columns' values.
Tuples = tuple[Table, Sequence[str], Sequence[tuple[Any, ...]]]


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
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                # Nothing in the shadow set counts until the swap commits, and that commit
                # flushes the log up to it: waiting for each append to reach the disk buys nothing.
                await conn.execute(text("SET synchronous_commit TO off"))
                await conn.commit()
            writer = cls(conn)
            try:
                yield writer
            finally:
                await writer.flush()
                if postgres:
                    await conn.execute(text("RESET synchronous_commit"))
                    await conn.commit()

    async def append(self, rows: Rows) -> None:
        await self._queue(
            [
                (table, columns, list(map(itemgetter(*columns), values)))
                for table, values in rows.items()
                if values and (columns := list(values[0]))
            ]
        )

    async def append_tuples(
        self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Like `append`, for one table's rows already in column order (no dict per row)."""
        await self._queue([(table, columns, rows)] if rows else [])

    async def _queue(self, parts: list[Tuples]) -> None:
        await self.flush()
        self._pending = asyncio.create_task(self._write(parts))

    async def flush(self) -> None:
        """Wait for the last append: it is then visible to other connections."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def _write(self, parts: list[Tuples]) -> None:
        for table, columns, records in parts:
            if self.conn.dialect.name == "postgresql":
                # Outside any SQLAlchemy transaction, so each COPY commits on its own.
                driver: Any = (await self.conn.get_raw_connection()).driver_connection
                try:
                    await driver.copy_records_to_table(table.name, records=records, columns=columns)
                except asyncpg.UniqueViolationError:
                    # Another rebuild worker stored some of these first (a redelivery that came
                    # by on another partition): theirs are kept, as a worker keeps the first.
                    await self.conn.execute(
                        postgresql.insert(table).on_conflict_do_nothing(), _dicts(columns, records)
                    )
            else:
                await self.conn.execute(insert(table), _dicts(columns, records))
        await self.conn.commit()


def _dicts(columns: Sequence[str], records: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, record, strict=True)) for record in records]
