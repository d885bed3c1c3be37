"""Locks, commits and notifications: PostgreSQL's advisory locks, its commits that need not
wait for the log, planner settings and NOTIFY/LISTEN; SQLite has one writer and one
process, so most of these do nothing there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import Table, delete, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.dialect.engines import is_postgres


@asynccontextmanager
async def unflushed_commits(conn: AsyncConnection) -> AsyncIterator[None]:
    """While inside, PostgreSQL commits on `conn` without waiting for the log to reach the disk:
    for writes that count only once a later commit, which does wait, has made them visible."""
    if is_postgres(conn):
        await conn.execute(text("SET synchronous_commit TO off"))
        await conn.commit()
    try:
        yield
    finally:
        if is_postgres(conn):
            await conn.execute(text("RESET synchronous_commit"))
            await conn.commit()


async def try_session_lock(conn: AsyncConnection, key: int) -> bool:
    """Whether this session now holds the lock `key` until it ends: an advisory lock on
    PostgreSQL. SQLite has no other sessions to keep out (an embedded installation is one
    process), so there it is always held."""
    if not is_postgres(conn):
        return True
    return bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))


async def lock_transaction(conn: AsyncConnection, key: int) -> None:
    """Wait for the lock `key`, held until the transaction ends: an advisory lock on PostgreSQL.
    On SQLite a writing transaction holds the database's one write lock anyway."""
    if is_postgres(conn):
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def share_transaction_lock(conn: AsyncConnection, key: int) -> None:
    """Wait for the lock `key` shared with others who share it, held until the transaction ends:
    it keeps out only whoever takes it alone (`lock_transaction`). SQLite has one writer anyway."""
    if is_postgres(conn):
        await conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": key})


async def lock_out_writers(conn: AsyncConnection, key: int, table: Table) -> None:
    """Wait for the lock `key` alone, held until the transaction ends; on SQLite take the
    database's one write lock now, with a write to `table` that changes nothing, rather than at
    the transaction's first real write."""
    if is_postgres(conn):
        await lock_transaction(conn, key)
    else:
        await conn.execute(delete(table).where(text("1 = 0")))


_LOCK_NAMES = text(
    "SELECT count(CASE WHEN k IS NULL THEN pg_advisory_xact_lock_shared(:shared)"
    " ELSE pg_advisory_xact_lock(hashtext(k)) END)"
    " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k NULLS FIRST) AS sorted"
)


async def lock_names(conn: AsyncConnection, names: Sequence[str], shared: int | None = None) -> None:
    """Wait for one lock per name, held until the transaction ends: advisory locks on
    PostgreSQL, taken in sorted order so that two transactions never wait for each other. With
    `shared`, the lock `shared` is taken first, shared as `share_transaction_lock` takes it, in
    the same statement. SQLite's one writer needs none."""
    if not is_postgres(conn) or not (names or shared is not None):
        return
    # NULL stands for the shared lock: sorted first, taken before every name.
    keys = [None, *sorted(names)] if shared is not None else sorted(names)
    await conn.execute(_LOCK_NAMES, {"keys": keys, "shared": shared})


@asynccontextmanager
async def locked_transaction(engine: AsyncEngine, key: int) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the lock `key` before it reads anything, committed on leaving.
    SQLite's write lock is taken at the first write unless the transaction begins IMMEDIATE."""
    if is_postgres(engine):
        async with engine.begin() as conn:
            await lock_transaction(conn, key)
            yield conn
        return
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            await conn.exec_driver_sql("ROLLBACK")
            raise
        await conn.exec_driver_sql("COMMIT")


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
    conn: AsyncConnection,
    channel: str,
    callback: Callable[[], None],
    ended: Callable[[], None] | None = None,
) -> AsyncIterator[bool]:
    """Calls `callback` for each notification on `channel` while inside, and `ended` when the
    connection closes (nothing is heard after that); `conn` must stay open and idle. Gives whether
    it listens: on SQLite nothing is ever notified."""
    if not is_postgres(conn):
        yield False
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None

    def notified(*_: object) -> None:
        callback()

    def closed(*_: object) -> None:
        if ended is not None:
            ended()

    driver.add_termination_listener(closed)
    await driver.add_listener(channel, notified)
    try:
        yield True
    finally:
        driver.remove_termination_listener(closed)
        await driver.remove_listener(channel, notified)
