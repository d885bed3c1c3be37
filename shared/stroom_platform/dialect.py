"""What Stroom does differently on PostgreSQL and on SQLite, in one place the services call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, DateTime, Dialect, Table, TypeDecorator, any_, literal, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")

# SQLite allows 32766 bound variables per statement; 5,000 rows of a few columns stay well under
# it, and under asyncpg's limit of 32767 as well.
CHUNK = 5000


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as UTC on both engines, so recorded times compare the same in SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("recorded times must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_postgres(bind: AsyncConnection | AsyncEngine) -> bool:
    return bind.dialect.name == "postgresql"


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices that each fit in one statement's bound parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def member_of(conn: AsyncConnection, column: Any, values: Sequence[Any]) -> list[ColumnElement[bool]]:
    """`column IN values`, one condition per statement to run: a single array on PostgreSQL."""
    if is_postgres(conn):
        return [column == any_(literal(list(values), postgresql.ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in chunks(values)]


def insert_on_conflict(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING / DO UPDATE on both engines."""
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


_PG_INDEX_ORDER = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)"
)


async def read_indexes_in_order(conn: AsyncConnection) -> None:
    """For the rest of the transaction PostgreSQL reads an ordered query's index in its order
    rather than planning a bitmap scan and a sort; SQLite plans neither."""
    if is_postgres(conn):
        await conn.execute(_PG_INDEX_ORDER)


async def notify(conn: AsyncConnection, channel: str) -> None:
    """Within a transaction: PostgreSQL tells the listeners on commit; SQLite has no listeners
    (an embedded installation is one process, which wakes its own parts)."""
    if is_postgres(conn):
        await conn.execute(text(f"NOTIFY {channel}"))


@asynccontextmanager
async def notifications(
    conn: AsyncConnection, channel: str, callback: Callable[[], None]
) -> AsyncIterator[None]:
    """Calls `callback` for each notification on `channel` while inside; `conn` must stay open
    and idle. On SQLite nothing is ever notified."""
    if not is_postgres(conn):
        yield
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None

    def notified(*_: object) -> None:
        callback()

    await driver.add_listener(channel, notified)
    try:
        yield
    finally:
        await driver.remove_listener(channel, notified)
