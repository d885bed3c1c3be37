"""Which database a connection talks to (`is_postgres`, the one question behind every
difference), how an engine is made for it, how it alters tables and how many writers it takes,
the column types stored alike on both, PostgreSQL's driver under a connection, for the
statements that run on it directly, and which errors say that the database cannot answer now."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Executable,
    Integer,
    Select,
    String,
    TypeDecorator,
    event,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import TypeEngine


def big_key() -> TypeEngine[int]:
    """A 64-bit integer key; INTEGER on SQLite, where only that makes a primary key the rowid
    (and so increasing)."""
    return BigInteger().with_variant(Integer, "sqlite")


class _CollatedKey(String):
    """VARCHAR in collation "C" where a column is declared; elsewhere (a cast, a parameter's
    type) plain VARCHAR, which is all PostgreSQL accepts there."""


@compiles(_CollatedKey, "postgresql")
def _declared_collated(type_: _CollatedKey, compiler: Any, **kw: Any) -> str:
    declared = isinstance(kw.get("type_expression"), Column)
    return str(compiler.visit_VARCHAR(type_ if declared else String(type_.length), **kw))


def key_text(length: int) -> TypeEngine[str]:
    """An opaque identifier (a key, an id, a code): on PostgreSQL in collation "C", so its index
    entries and sorts compare bytes rather than calling the locale's strcoll (about a quarter of a
    keyed insert's cost under C.UTF-8 or en_US.UTF-8). Its order means nothing to people, and
    "C" orders as Python orders str, by codepoint."""
    return String(length).with_variant(_CollatedKey(length, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as UTC on both engines, so recorded times compare the same in SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("een vastgelegd tijdstip moet een tijdzone hebben")
        value = value.astimezone(UTC)
        return value if is_postgres(dialect) else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is UTC:  # asyncpg's timestamptz, on every row the load reads: nothing to do
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Bound(Protocol):
    """What is bound to a dialect: an engine, a connection."""

    @property
    def dialect(self) -> Dialect: ...


# What the engine-dependent functions ask about: a database URL, a dialect, or what is bound to one.
Where: TypeAlias = str | URL | Dialect | Bound


def is_postgres(where: Where) -> bool:
    """PostgreSQL, or else SQLite: the one question behind every difference. `where` is a
    database URL, a dialect, or what is bound to one (an engine, a connection)."""
    if isinstance(where, str | URL):
        return make_url(where).get_backend_name() == "postgresql"
    dialect = where if isinstance(where, Dialect) else where.dialect
    return dialect.name == "postgresql"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the API) run beside the one writer; NORMAL is durable in WAL mode
    # against process crashes, which is what the outbox needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@dataclass(frozen=True)
class PoolSize:
    """A PostgreSQL engine's pool: the connections it keeps, and how many more it opens under
    load (`STROOM_DATABASE_POOL_SIZE`, `STROOM_DATABASE_MAX_OVERFLOW`)."""

    size: int = 10
    overflow: int = 10


DEFAULT_POOL = PoolSize()
# The pool of a client that works on one connection at a time (`LockingTransactions`): one, never
# more, so that each such process counts once against PostgreSQL's max_connections.
ONE_CONNECTION = PoolSize(1, 0)


def make_engine(url: str | URL, pool: PoolSize = DEFAULT_POOL, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`: SQLite's file (its directory made) in WAL mode with a writer's wait,
    or a pool of PostgreSQL connections checked before use."""
    if not is_postgres(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Not compiled (JIT): PostgreSQL compiles a statement once its estimated cost passes
    # jit_above_cost, which a batch's reads do as their tables grow, and for a statement that runs
    # once compiling costs more than it saves (40-90 ms of a reporting restate's 70-130 ms reads
    # at 800,000 events).
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args["server_settings"] = {"jit": "off", **connect_args.get("server_settings", {})}
    return create_async_engine(
        url, pool_size=pool.size, max_overflow=pool.overflow, connect_args=connect_args, **kwargs
    )


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # The pool takes another connection when a checkout raises this (up to three times).
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("verbinding gesloten door de server")


def make_reading_engine(engine: AsyncEngine, pool: PoolSize = DEFAULT_POOL) -> AsyncEngine:
    """An engine for connections that only read, beside `engine`. On PostgreSQL a pool of its own
    in autocommit: a read is its statements alone. Its check before use asks the driver whether
    the server closed the connection (as it does to every connection when it stops or restarts)
    instead of a statement: a kept answer's only round trip is then its generation read. Each
    statement still sees what was committed when it began, as under read committed. Its
    statements plan no parallel workers: a read takes milliseconds, less than starting worker
    processes costs, most of all on a machine busy with other work (nor are they compiled, as
    no statement of `make_engine`'s is: compiling took 43 ms of an `as_of` KPI sheet at a
    million events).
    SQLite's reads begin no transaction, and a second engine on `:memory:` would be another
    database: there `engine` itself."""
    if not is_postgres(engine):
        return engine
    serial = {"server_settings": {"max_parallel_workers_per_gather": "0"}}
    reading = make_engine(
        engine.url, pool, isolation_level="AUTOCOMMIT", pool_pre_ping=False, connect_args=serial
    )
    event.listen(reading.sync_engine, "checkout", _refuse_closed)
    return reading


def alters_by_copying(where: Where) -> bool:
    """Whether altering a table means copying it (SQLite's ALTER TABLE alters little): Alembic's
    batch mode."""
    return not is_postgres(where)


def writers(where: Where, wanted: int) -> int:
    """How many of `wanted` writers to run side by side: SQLite has one writer at a time, and
    more would only wait for each other."""
    return wanted if is_postgres(where) else 1


async def fetch_on_driver(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> list[Any]:
    """The rows of `statement` on PostgreSQL, run by asyncpg under `conn` (inside its transaction,
    see `driver_in_transaction`) with `params` as the driver takes them, and the values the
    statement binds itself (its literals) where `params` has none: SQLAlchemy's execution of a
    statement cost the live worker's small transaction more CPU than the driver's own.
    A PostgreSQL error is raised as SQLAlchemy raises a statement's, without the parameters."""
    sql, names, literals = _positional(conn.dialect, statement)
    driver = await driver_in_transaction(conn)
    try:
        return list(
            await driver.fetch(sql, *[params[name] if name in params else literals[name] for name in names])
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DBAPIError(sql, None, exc) from exc


async def fetch_rows(conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
    """The rows of a statement built once per engine, on PostgreSQL as asyncpg gives them
    (`fetch_on_driver`): SQLAlchemy's cache look-up, parameter processing and a Row per row cost
    three times the driver's CPU for a monthly report's 2,400 rows. Only for statements whose
    columns asyncpg returns as SQLAlchemy would (integers, text, times in UTC) and whose values
    are bound as they are given (arrays, `among`; no expanding IN)."""
    if not is_postgres(conn):
        return list((await conn.execute(statement, params)).all())
    return await fetch_on_driver(conn, statement, params)


async def stream_on_driver(
    conn: AsyncConnection, statement: Select[Any], size: int
) -> AsyncIterator[Sequence[Any]]:
    """The rows of `statement`, `size` at a time, each unpacking as a tuple. On PostgreSQL from
    asyncpg's cursor under `conn` (inside its transaction), its bound values passed as they are:
    SQLAlchemy's streamed result, a row object and a greenlet switch per batch on top, made a
    rebuild's reading of its entity facts cost twice the CPU of the driver's cursor."""
    if not is_postgres(conn):
        result = await conn.stream(statement.execution_options(yield_per=size))
        async for rows in result.partitions():
            yield rows
        return
    compiled = statement.compile(dialect=conn.dialect)
    sql = compiled.string
    values = [compiled.params[name] for name in compiled.positiontup or ()]
    driver = await driver_in_transaction(conn)
    try:
        cursor = await driver.cursor(sql, *values)
        while rows := await cursor.fetch(size):
            yield rows
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DBAPIError(sql, None, exc) from exc


@lru_cache(maxsize=256)
def _positional(dialect: Dialect, statement: Executable) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """`statement` as PostgreSQL's text with numbered parameters, their names in order and the
    values it binds itself."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    return compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params)


async def driver_of(conn: AsyncConnection) -> Any:
    """asyncpg's connection under `conn`. Kept in the connection's `info`, which lives as long as
    the driver's connection and is emptied when the pool replaces it: asking SQLAlchemy for it
    costs a greenlet switch (about 19 us), and the live worker's transaction asks four times."""
    driver = conn.info.get(_DRIVER)
    if driver is None:
        driver = conn.info[_DRIVER] = (await conn.get_raw_connection()).driver_connection
    return driver


_DRIVER = "stroom_driver"


def _autocommit(conn: AsyncConnection) -> bool:
    """Whether `conn` runs each statement on its own."""
    sync = conn.sync_connection
    assert sync is not None
    dbapi = sync.connection.dbapi_connection
    return dbapi is not None and bool(dbapi.autocommit)


async def driver_in_transaction(conn: AsyncConnection) -> Any:
    """asyncpg's connection under `conn`, inside `conn`'s transaction."""
    driver = await driver_of(conn)
    assert driver is not None
    # An autocommit connection (`make_reading_engine`) has no transaction to join.
    if not driver.is_in_transaction() and not _autocommit(conn):
        # The driver opens SQLAlchemy's transaction lazily, at the first statement: ours must join it.
        await conn.execute(select(1))
    return driver


# What an unreachable database raises, by driver: SQLAlchemy's wrapped errors and its pool's
# timeout, asyncpg's own (statements run on the driver directly are not wrapped), and the
# socket's refusal of a connection, which neither wraps.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeout,
    asyncpg.PostgresError,
    ConnectionError,
)
# SQLSTATEs of a server that cannot answer whatever is asked: a connection exception (class 08),
# a shutdown by an operator or a crash, a server still starting (57P01-57P03), no connection
# slot left (53300).
_AWAY_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_away(exc: BaseException) -> bool:
    """Whether `exc` says that the database cannot answer now, rather than that a statement is
    wrong: a connection refused or lost, a PostgreSQL server stopping, starting or full, no
    pooled connection free in time, a SQLite file locked by another writer past its timeout."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, ConnectionError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_AWAY_STATES)
