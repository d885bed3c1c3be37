"""Locks, commits and notifications: PostgreSQL's advisory locks, its commits that need not
wait for the log, planner settings and NOTIFY/LISTEN; SQLite has one writer and one
process, so most of these do nothing there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import Table, delete, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.dialect.engines import driver_of, is_postgres


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


# A name's lock has two keys, this one and its name's hash: PostgreSQL keeps two-key locks apart
# from one-key locks, so no name, whatever it hashes to, takes a lock given by number (a shared
# lock, a relay's session lock) or waits for one.
_NAMES = 0x5354_524D
# The locks are taken in the order unnest gives the keys, the array's. An ORDER BY inside the
# count would not change that: PostgreSQL evaluates an aggregate's argument for each row as the
# row comes, and sorts only the results.
_LOCK_NAMES = text(
    "SELECT count(CASE WHEN k IS NULL THEN pg_advisory_xact_lock_shared(:shared)"
    " ELSE pg_advisory_xact_lock(CAST(:names AS integer), hashtext(k)) END)"
    " FROM unnest(CAST(:keys AS text[])) AS given(k)"
)
# PostgreSQL takes at most 1,664 columns in a SELECT's list.
_LOCKS_A_SELECT = 1000


def _lock_keys(names: Sequence[str], shared: int | None) -> list[str | None]:
    """The names in the order every transaction takes their locks, so that two never wait for
    each other; None stands for the shared lock, taken before every name."""
    keys: list[str | None] = [None] if shared is not None else []
    return [*keys, *sorted(names)]


async def lock_names(conn: AsyncConnection, names: Sequence[str], shared: int | None = None) -> None:
    """Wait for one lock per name, held until the transaction ends: advisory locks on
    PostgreSQL, taken in sorted order so that two transactions never wait for each other. With
    `shared`, the lock `shared` is taken first, shared as `share_transaction_lock` takes it, in
    the same statement. SQLite's one writer needs none."""
    if not is_postgres(conn) or not (names or shared is not None):
        return
    keys = _lock_keys(names, shared)
    await conn.execute(_LOCK_NAMES, {"keys": keys, "shared": shared, "names": _NAMES})


@asynccontextmanager
async def transaction_locking(
    engine: AsyncEngine, names: Sequence[str], shared: int | None = None
) -> AsyncIterator[AsyncConnection]:
    """A transaction that begins holding the locks `lock_names` takes of `names` and `shared`,
    committed on leaving. On PostgreSQL the locks are taken in the round trip of its BEGIN (one
    query of both, so with no parameters: each name goes as the hexadecimal of its UTF-8, which
    holds nothing but digits and letters a to f), where `engine.begin()` and `lock_names` take
    one each, a fair part of a small transaction's cost. SQLite's one writer needs no locks."""
    if not is_postgres(engine):
        async with engine.begin() as conn:
            yield conn
        return
    async with engine.connect() as plain:
        # The transaction is this function's: SQLAlchemy would begin one of its own.
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        async with _locking_on(conn, names, shared):
            yield conn


class LockingTransactions:
    """`transaction_locking`'s transactions, one at a time, on PostgreSQL all on one connection
    kept between them: taking a connection from the pool, switching it to autocommit and back
    and returning it cost the client more than a small transaction's own statements do (about
    0.13 ms a transaction). After a transaction that failed in any way the connection goes back
    to the pool (which drops one that broke) and the next transaction takes another."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._held: AsyncConnection | None = None

    @asynccontextmanager
    async def transaction(
        self, names: Sequence[str], shared: int | None = None
    ) -> AsyncIterator[AsyncConnection]:
        if not is_postgres(self._engine):
            async with transaction_locking(self._engine, names, shared) as conn:
                yield conn
            return
        if self._held is None:
            plain = await self._engine.connect()
            self._held = await plain.execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with _locking_on(self._held, names, shared):
                yield self._held
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held.close()


@asynccontextmanager
async def _locking_on(conn: AsyncConnection, names: Sequence[str], shared: int | None) -> AsyncIterator[None]:
    """`transaction_locking`'s transaction on `conn`, a PostgreSQL connection in autocommit."""
    locks = [
        f"pg_advisory_xact_lock_shared({shared:d})"
        if key is None
        else f"pg_advisory_xact_lock({_NAMES:d}, hashtext({_utf8(key)}))"
        for key in _lock_keys(names, shared)
    ]
    # A list of calls, not `lock_names`' array: PostgreSQL parses and plans it in about half the
    # time (65 against 119 us a transaction of two names), the client builds it in less.
    chunks = range(0, len(locks), _LOCKS_A_SELECT)
    selects = [f"SELECT {', '.join(locks[at : at + _LOCKS_A_SELECT])}" for at in chunks]
    await _control(conn, "; ".join(["BEGIN", *selects]))
    try:
        yield
    except BaseException:
        with contextlib.suppress(DBAPIError):
            await _control(conn, "ROLLBACK")
        raise
    await _control(conn, "COMMIT")


def _utf8(name: str) -> str:
    """`name` as an SQL expression holding nothing but digits and the letters a to f."""
    return f"convert_from(decode('{name.encode().hex()}', 'hex'), 'UTF8')"


async def _control(conn: AsyncConnection, sql: str) -> None:
    """Run `sql` on the driver (one or more statements without parameters), its errors raised as
    SQLAlchemy raises a statement's. A connection whose BEGIN, COMMIT or ROLLBACK failed may
    still be inside its transaction: it does not go back to the pool, which takes it for one
    in autocommit and would not end that."""
    driver = await driver_of(conn)
    try:
        await driver.execute(sql)
    except BaseException as exc:
        await conn.invalidate()
        if isinstance(exc, Exception):
            # Named by its first statement only: the locks name the entities.
            raise DBAPIError(sql.split(";", 1)[0], None, exc) from exc
        raise


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
