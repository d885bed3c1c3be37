"""Rows appended to the shadow tables in bulk, on connections of their own, behind the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.dialect import append_rows, copied_moments, unflushed_commits, writers

# Rows of one table as tuples of the named columns' values.
Tuples = tuple[Table, Sequence[str], Sequence[tuple[Any, ...]]]
# Appends written at once (where the database takes several writers): with one, the caller
# waited for the database on every append its rows were ready before the previous one was in.
IN_FLIGHT = 2


class BulkWriter:
    """Each `append` is written and committed on a connection of its own while the caller
    prepares the next ones, so that the database's work overlaps the rebuild's own. The shadow
    set is the rebuild's alone, and it need not fill in one transaction, nor in the order of the
    appends. Each append's rows are in key order: appends that wait for each other's keys (a
    redelivery another writer stores too) then never wait in a circle."""

    def __init__(self, conns: Sequence[AsyncConnection]) -> None:
        self._conns = list(conns)
        self._pending: list[asyncio.Task[None] | None] = [None] * len(self._conns)
        self._next = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, engine: AsyncEngine) -> AsyncIterator[BulkWriter]:
        # Nothing in the shadow set counts until the swap commits, and that commit flushes the
        # log up to it: waiting for each append to reach the disk buys nothing.
        async with AsyncExitStack() as stack:
            conns = []
            for _ in range(writers(engine, IN_FLIGHT)):
                conn = await stack.enter_async_context(engine.connect())
                await stack.enter_async_context(unflushed_commits(conn))
                await stack.enter_async_context(copied_moments(conn))
                conns.append(conn)
            writer = cls(conns)
            try:
                yield writer
            finally:
                await writer.flush()

    async def append(self, parts: Iterable[Tuples]) -> None:
        """Rows of several tables, each as tuples of its named columns' values (no dict per row),
        in one commit."""
        await self._queue([part for part in parts if part[2]])

    async def append_tuples(
        self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """`append` of one table's rows."""
        await self.append([(table, columns, rows)])

    async def _queue(self, parts: list[Tuples]) -> None:
        lane = self._next
        self._next = (lane + 1) % len(self._conns)
        pending, self._pending[lane] = self._pending[lane], None
        if pending is not None:
            await pending
        self._pending[lane] = asyncio.create_task(self._write(self._conns[lane], parts))

    async def flush(self) -> None:
        """Wait for every append: they are then visible to other connections."""
        pending = [task for task in self._pending if task is not None]
        self._pending = [None] * len(self._conns)
        # Every one awaited before a failure is raised: none is left writing on a closing connection.
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    @staticmethod
    async def _write(conn: AsyncConnection, parts: list[Tuples]) -> None:
        for table, columns, records in parts:
            # Another rebuild worker may have stored some of these first (a redelivery that came
            # by on another partition): theirs are kept, as a worker keeps the first.
            await append_rows(conn, table, columns, records)
        await conn.commit()
