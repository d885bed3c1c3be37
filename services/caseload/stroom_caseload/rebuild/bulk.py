"""Rows appended to the shadow tables in bulk, on a connection of their own, behind the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.dialect import append_rows, unflushed_commits

Rows = Mapping[Table, Sequence[dict[str, Any]]]
# Rows of one table as tuples of the named columns' values.
Tuples = tuple[Table, Sequence[str], Sequence[tuple[Any, ...]]]


class BulkWriter:
    """Each `append` is written and committed while the caller prepares the next one, so that the
    database's work overlaps the rebuild's own. The shadow set is the rebuild's alone, and it need
    not fill in one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._pending: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, engine: AsyncEngine) -> AsyncIterator[BulkWriter]:
        # Nothing in the shadow set counts until the swap commits, and that commit flushes the
        # log up to it: waiting for each append to reach the disk buys nothing.
        async with engine.connect() as conn, unflushed_commits(conn):
            writer = cls(conn)
            try:
                yield writer
            finally:
                await writer.flush()

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
            # Another rebuild worker may have stored some of these first (a redelivery that came
            # by on another partition): theirs are kept, as a worker keeps the first.
            await append_rows(self.conn, table, columns, records)
        await self.conn.commit()
