"""What Stroom does differently on PostgreSQL and on SQLite, in one place the services call:
the one predicate, times, IN lists, bulk writes, locks and notifications."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Container, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    CursorResult,
    Date,
    DateTime,
    Dialect,
    Enum,
    Integer,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, DropIndex
from sqlalchemy.types import TypeEngine

T = TypeVar("T")

# SQLite allows 32766 bound variables per statement; 5,000 rows of a few columns stay well under
# it, and under asyncpg's limit of 32767 as well.
CHUNK = 5000


def big_key() -> TypeEngine[int]:
    """A 64-bit integer key; INTEGER on SQLite, where only that makes a primary key the rowid
    (and so increasing)."""
    return BigInteger().with_variant(Integer, "sqlite")


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
        return value if is_postgres(dialect) else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is UTC:  # asyncpg's timestamptz, on every row the load reads: nothing to do
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Bound(Protocol):
    @property
    def dialect(self) -> Dialect: ...


def is_postgres(where: str | URL | Dialect | _Bound) -> bool:
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


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`: SQLite's file (its directory made) in WAL mode with a writer's wait,
    or a pool of PostgreSQL connections checked before use."""
    if not is_postgres(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def alters_by_copying(where: str | URL | Dialect | _Bound) -> bool:
    """Whether altering a table means copying it (SQLite's ALTER TABLE alters little): Alembic's
    batch mode."""
    return not is_postgres(where)


def writers(where: str | URL | Dialect | _Bound, wanted: int) -> int:
    """How many of `wanted` writers to run side by side: SQLite has one writer at a time, and
    more would only wait for each other."""
    return wanted if is_postgres(where) else 1


def least_of(conn: AsyncConnection, stored: Any, given: Any) -> ColumnElement[Any]:
    """The smaller of a stored value, which may be NULL, and a given one, which is not."""
    if is_postgres(conn):
        return func.least(stored, given)  # PostgreSQL's least passes over a NULL
    return func.min(func.coalesce(stored, given), given)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices that each fit in one statement's bound parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def member_of(conn: AsyncConnection, column: Any, values: Sequence[Any]) -> list[ColumnElement[bool]]:
    """`column IN values`, one condition per statement to run: a single array on PostgreSQL."""
    if is_postgres(conn):
        return [column == any_(literal(list(values), postgresql.ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in chunks(values)]


def among(column: ColumnElement[Any], name: str, postgres: bool) -> ColumnElement[bool]:
    """`column IN` the values bound as the one parameter `name` (see `bound_values`), so that a
    statement built once for an engine compiles once however many values there are."""
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    values = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


def bound_values(conn: AsyncConnection, values: Sequence[Any]) -> Any:
    """`values` as the parameter of an `among`: an array on PostgreSQL, a JSON list on SQLite."""
    return list(values) if is_postgres(conn) else orjson.dumps(list(values)).decode()


class PerEngine(Generic[T]):
    """What is built once for PostgreSQL and once for SQLite (a statement SQLAlchemy then finds
    in its compiled cache), handed out for a connection."""

    def __init__(self, build: Callable[[bool], T]) -> None:
        self._built = {postgres: build(postgres) for postgres in (True, False)}

    def __call__(self, conn: AsyncConnection) -> T:
        return self._built[is_postgres(conn)]


def pair_member_of(
    conn: AsyncConnection, first: Any, second: Any, pairs: Sequence[tuple[Any, Any]]
) -> list[ColumnElement[bool]]:
    """`(first, second) IN pairs`, one condition per statement to run: on PostgreSQL the pairs
    travel as two arrays, which it plans as one join instead of one index probe per pair."""
    if is_postgres(conn):
        arrays = [
            cast(literal(list(values), postgresql.ARRAY(column.type)), postgresql.ARRAY(column.type))
            for column, values in ((first, [a for a, _ in pairs]), (second, [b for _, b in pairs]))
        ]
        wanted = func.unnest(*arrays).table_valued("first", "second").render_derived()
        return [tuple_(first, second).in_(select(wanted.c.first, wanted.c.second))]
    return [tuple_(first, second).in_(chunk) for chunk in chunks(pairs)]


def insert_on_conflict(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING / DO UPDATE on both engines."""
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


# Bulk writes and the reads that go with them: one statement per table and batch. On PostgreSQL
# every column travels as one array (COPY where nothing can conflict), on SQLite the statement
# runs once per row within one call.
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _insert_sql(conn: AsyncConnection, table: Table, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    if not is_postgres(conn):
        return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(f':{c}' for c in columns)})"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
    # One array per column: the whole batch travels as a single statement.
    arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(_PG)}[])" for c in columns)
    # WHERE true: without it PostgreSQL would read a following ON CONFLICT as part of the FROM.
    return f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) WHERE true"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters


async def _execute(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], sql: str
) -> CursorResult[Any]:
    if is_postgres(conn):
        arrays = zip(*rows, strict=True)
        return await conn.execute(text(sql), {c: list(a) for c, a in zip(columns, arrays, strict=True)})
    # Typed parameters: the columns' own conversions (UTC times, dates) apply as in Core inserts.
    statement = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    return await conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    if not is_postgres(conn):
        await _execute(conn, table, columns, rows, _insert_sql(conn, table, columns))
        return
    driver = await _driver(conn)
    # Binary COPY: the cheapest way in for many rows, both for Python and for the server.
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


async def _driver(conn: AsyncConnection) -> Any:
    """asyncpg's connection under `conn`, inside `conn`'s transaction."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver opens SQLAlchemy's transaction lazily, at the first statement: ours must join it.
        await conn.execute(select(1))
    return driver


async def append_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], records: Sequence[Sequence[Any]]
) -> None:
    """On a connection outside any transaction: the records stored, committed on their own. On
    PostgreSQL by binary COPY; where some keys are stored already (another writer was first),
    the stored rows are kept and only the others inserted."""
    if not is_postgres(conn):
        await conn.execute(insert(table), _dicts(columns, records))
        return
    driver: Any = (await conn.get_raw_connection()).driver_connection
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.UniqueViolationError:
        await conn.execute(postgresql.insert(table).on_conflict_do_nothing(), _dicts(columns, records))


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


def _dicts(columns: Sequence[str], records: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, record, strict=True)) for record in records]


async def insert_new_rows(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    keys: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert the rows whose `keys` are not stored yet; returns the keys of those it inserted."""
    if not rows:
        return []
    if is_postgres(conn):
        sql = (
            _insert_sql(conn, table, columns)
            + OnConflict(tuple(keys)).sql()
            + f" RETURNING {', '.join(keys)}"
        )
        result = await _execute(conn, table, columns, rows, sql)
    else:
        # SQLite returns no rows from an executemany: SQLAlchemy's own insert sends this as
        # multi-row INSERT .. VALUES pages instead ("insertmanyvalues").
        statement = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=[table.c[k] for k in keys])
            .returning(*(table.c[k] for k in keys))
        )
        result = await conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
    return [tuple(row) for row in result.all()]


async def upsert_rows(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    keys: Sequence[str],
    set_sql: dict[str, str],
) -> None:
    """Insert, or on a key conflict set columns to SQL over `excluded` and the stored row.
    The keys must be unique within `rows`."""
    if rows:
        sql = _insert_sql(conn, table, columns) + OnConflict(tuple(keys), set_sql).sql()
        await _execute(conn, table, columns, rows, sql)


@dataclass(frozen=True, slots=True)
class OnConflict:
    """What an insert does with a row whose `keys` are stored already: nothing, or with `set_sql`
    set columns to SQL over `excluded` and the stored row, where `where_sql` holds."""

    keys: tuple[str, ...]
    set_sql: Mapping[str, str] = field(default_factory=dict)
    where_sql: str | None = None

    def sql(self) -> str:
        target = f" ON CONFLICT ({', '.join(self.keys)})"
        if not self.set_sql:
            return target + " DO NOTHING"
        sets = ", ".join(f'"{c}" = {expression}' for c, expression in self.set_sql.items())
        return target + f" DO UPDATE SET {sets}" + (f" WHERE {self.where_sql}" if self.where_sql else "")

    def sqlite_insert(self, table: Table) -> sqlite.Insert:
        statement = sqlite.insert(table)
        index = [table.c[k] for k in self.keys]
        if not self.set_sql:
            return statement.on_conflict_do_nothing(index_elements=index)
        return statement.on_conflict_do_update(
            index_elements=index,
            set_={c: literal_column(expression) for c, expression in self.set_sql.items()},
            where=text(self.where_sql) if self.where_sql else None,
        )


async def insert_dicts(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: OnConflict | None = None,
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert `rows` (dicts with the same columns) with one statement, on PostgreSQL all of them
    in one JSON parameter (see `json_rows_insert`); the `returning` columns of the rows written."""
    if not rows:
        return []
    if not is_postgres(conn):
        statement = conflict.sqlite_insert(table) if conflict else sqlite.insert(table)
        if returning:
            # SQLAlchemy sends it as multi-row INSERT .. VALUES pages, which SQLite returns rows of.
            return list(await conn.execute(statement.returning(*(table.c[c] for c in returning)), rows))
        await conn.execute(statement, rows)
        return []
    sql, params = json_rows_insert(conn, table, rows)
    sql += conflict.sql() if conflict else ""
    if not returning:
        await conn.execute(text(sql), params)
        return []
    typed = text(f"{sql} RETURNING {', '.join(returning)}").columns(*(table.c[c] for c in returning))
    return list(await conn.execute(typed, params))


async def insert_dicts_together(
    conn: AsyncConnection, writes: Sequence[tuple[Table, Sequence[dict[str, Any]], OnConflict | None]]
) -> None:
    """Each table's rows inserted as `insert_dicts` does; on PostgreSQL all in one statement, since
    a statement's own cost is most of a small batch's."""
    writes = [write for write in writes if write[1]]
    if not is_postgres(conn):
        for table, rows, conflict in writes:
            await insert_dicts(conn, table, rows, conflict)
        return
    inserts, params = [], {}
    for n, (table, rows, conflict) in enumerate(writes):
        sql, table_params = json_rows_insert(conn, table, rows, f"rows{n}")
        inserts.append(f"i{n} AS ({sql}{conflict.sql() if conflict else ''})")
        params.update(table_params)
    if inserts:
        await conn.execute(text(f"WITH {', '.join(inserts)} SELECT 1"), params)


async def delete_tails(
    conn: AsyncConnection, tables: Sequence[Table], key: str, position: str, cuts: Sequence[tuple[Any, Any]]
) -> None:
    """Delete from each of `tables` the rows whose `key` is a cut's key and whose `position` is at
    least the cut's; on PostgreSQL in one statement for all the tables."""
    if not cuts or not tables:
        return
    keys, froms = [k for k, _ in cuts], [v for _, v in cuts]
    if not is_postgres(conn):
        for table in tables:
            await conn.execute(
                delete(table).where(table.c[key] == bindparam("k"), table.c[position] >= bindparam("v")),
                [{"k": k, "v": v} for k, v in cuts],
            )
        return
    first = tables[0]
    arrays = ", ".join(
        f"CAST(:{name} AS {first.c[column].type.compile(_PG)}[])"
        for name, column in (("keys", key), ("froms", position))
    )
    deletes = ", ".join(
        f"d{n} AS (DELETE FROM {t.name} USING unnest({arrays}) AS cut(k, v)"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" WHERE {t.name}.{key} = cut.k AND {t.name}.{position} >= cut.v)"
        for n, t in enumerate(tables)
    )
    await conn.execute(text(f"WITH {deletes} SELECT 1"), {"keys": keys, "froms": froms})


def json_rows_insert(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], param: str = "rows"
) -> tuple[str, dict[str, str]]:
    """PostgreSQL's INSERT of `rows` (dicts with the same columns) as one JSON parameter named
    `param`: an array parameter per column costs the client more (asyncpg inspects each element
    in Python) than reading the JSON costs PostgreSQL. The statement and its parameters."""
    names = tuple(c.name for c in table.columns if c.name in rows[0])
    # asyncpg stores a naive time as UTC; so does this.
    params = {param: orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()}
    return _json_insert_sql(conn.dialect, table, names, param), params


@cache
def _json_insert_sql(dialect: Dialect, table: Table, names: tuple[str, ...], param: str) -> str:
    # Read as text and cast, as a cast of an array would: an over-long string is cut, not refused.
    values = ", ".join(f'CAST(r."{name}" AS {table.c[name].type.compile(dialect=dialect)})' for name in names)
    fields = ", ".join(f'"{name}" text' for name in names)
    columns = ", ".join(f'"{name}"' for name in names)
    return (
        f"INSERT INTO {table.name} ({columns})"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" SELECT {values} FROM json_to_recordset(CAST(:{param} AS json)) AS r({fields})"
    )


async def update_rows(
    conn: AsyncConnection, table: Table, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Set `columns` of the rows whose `key` is each row's first value to the values after it."""
    if not rows:
        return
    names = (key, *columns)
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    if not is_postgres(conn):
        sql = f"UPDATE {table.name} SET {sets} WHERE {key} = :{key}"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        await _execute(conn, table, names, rows, sql)
        return
    arrays = ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(_PG)}[])" for c in names)
    sets = ", ".join(f"{c} = new.{c}" for c in columns)
    sql = (
        f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS new({', '.join(names)}) "  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f"WHERE {table.name}.{key} = new.{key}"
    )
    await _execute(conn, table, names, rows, sql)


async def write_rows(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    stored: Container[Any],
) -> None:
    """Rows keyed by their first column: those whose key is not `stored` yet are copied in, the
    others updated. Cheaper than an upsert, which tries every row against the key's index first;
    a row another writer stored meanwhile fails the transaction, and the batch is applied again."""
    await insert_rows(conn, table, columns, [row for row in rows if row[0] not in stored])
    await update_rows(conn, table, columns[0], columns[1:], [row for row in rows if row[0] in stored])


def _wanted(table: Table, column: str) -> str:
    """A join of `table` to the values of the bound array `values`: PostgreSQL looks each one up
    in the column's index. `column = ANY(array)` could be planned, once the statement is prepared
    and generic, as a scan of the whole table comparing every row with every value."""
    array = f"CAST(:values AS {table.c[column].type.compile(_PG)}[])"
    return f"unnest({array}) AS wanted(value) WHERE {table.name}.{column} = wanted.value"


async def select_where_in(
    conn: AsyncConnection, table: Table, column: str, values: Sequence[Any], wanted: Sequence[str]
) -> list[Any]:
    """The `wanted` columns of the rows whose `column` is one of `values` (each given once)."""
    if not values:
        return []
    if is_postgres(conn) and (row := _plain_row(table, tuple(wanted))) is not None:
        driver = await _driver(conn)
        return [
            row(*record) for record in await driver.fetch(_select_sql(table, column, tuple(wanted)), values)
        ]
    if is_postgres(conn):
        names = ", ".join(f"{table.name}.{c}" for c in wanted)
        sql = f"SELECT {names} FROM {table.name}, {_wanted(table, column)}"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        typed = text(sql).columns(*(table.c[c] for c in wanted))
        return list(await conn.execute(typed, {"values": list(values)}))
    found: list[Any] = []
    for condition in member_of(conn, table.c[column], values):
        found.extend(await conn.execute(select(*(table.c[c] for c in wanted)).where(condition)))
    return found


# Column types asyncpg returns as SQLAlchemy would (timestamptz: aware, in UTC, as UtcDateTime).
_PLAIN = (String, Integer, Date, Boolean, UtcDateTime)


@cache
def _plain_row(table: Table, wanted: tuple[str, ...]) -> type[tuple[Any, ...]] | None:
    """A named tuple of the `wanted` columns, when asyncpg's values need no conversion by
    SQLAlchemy: then rows are read by the driver directly, which costs a fraction of SQLAlchemy's
    result processing (the KPI restate reads tens of rows an event)."""
    types = [table.c[c].type for c in wanted]
    if not all(isinstance(t, _PLAIN) and not isinstance(t, Enum) for t in types):
        return None
    return namedtuple(f"{table.name}_row", wanted)


@cache
def _select_sql(table: Table, column: str, wanted: tuple[str, ...]) -> str:
    array = f"CAST($1 AS {table.c[column].type.compile(_PG)}[])"
    names = ", ".join(f"{table.name}.{c}" for c in wanted)
    return (
        f"SELECT {names} FROM {table.name}, unnest({array}) AS wanted(value) "  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f"WHERE {table.name}.{column} = wanted.value"
    )


async def delete_where_in(conn: AsyncConnection, table: Table, column: str, values: Sequence[Any]) -> None:
    """Delete the rows whose `column` is one of `values`."""
    if not values:
        return
    if is_postgres(conn):
        sql = f"DELETE FROM {table.name} USING {_wanted(table, column)}"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        await conn.execute(text(sql), {"values": list(values)})
        return
    for condition in member_of(conn, table.c[column], values):
        await conn.execute(delete(table).where(condition))


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


async def lock_names(conn: AsyncConnection, names: Sequence[str]) -> None:
    """Wait for one lock per name, held until the transaction ends: advisory locks on
    PostgreSQL, taken in sorted order so that two transactions never wait for each other.
    SQLite's one writer needs none."""
    if is_postgres(conn) and names:
        await conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(hashtext(k)))"
                " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS sorted"
            ),
            {"keys": sorted(names)},
        )


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


def refuse_changes(where: str | URL | Dialect | _Bound, table: str, message: str) -> list[str]:
    """The statements that make `table` append-only: an update or a delete (and on PostgreSQL a
    TRUNCATE) fails with `message`."""
    if is_postgres(where):
        return [
            f"""CREATE OR REPLACE FUNCTION {table}_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
            END
            $$ LANGUAGE plpgsql""",
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()""",
        ]
    # SQLite has no TRUNCATE; a DELETE without WHERE fires the row trigger too.
    return [
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{message}'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        BEGIN SELECT RAISE(ABORT, '{message}'); END""",
    ]


def refusal_left_behind(where: str | URL | Dialect | _Bound, table: str) -> list[str]:
    """What drops what `refuse_changes` made that dropping `table` leaves: PostgreSQL's function
    (SQLite's triggers go with the table)."""
    return [f"DROP FUNCTION IF EXISTS {table}_refuse_change()"] if is_postgres(where) else []


def storage_tuning(where: str | URL | Dialect | _Bound, statements: Sequence[str]) -> list[str]:
    """Storage parameters and index methods (fillfactor, hash indexes) are PostgreSQL's: the
    statements there, none on SQLite."""
    return list(statements) if is_postgres(where) else []


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


# A table set loaded in bulk beside the live one and then swapped in for it. PostgreSQL builds an
# index over a filled table by sorting it once, far cheaper than keeping it up to date row by row
# while rows are appended, and its DDL is transactional, so it swaps by renaming; SQLite keeps its
# indexes and copies the rows.


async def empty_for_loading(conn: AsyncConnection, tables: Sequence[Table]) -> None:
    """`tables` emptied for a bulk load; on PostgreSQL without their indexes but for the primary
    keys (which settle rows delivered twice) until `finish_loading` builds them."""
    if not is_postgres(conn):
        for table in tables:
            await conn.execute(delete(table))
        return
    await conn.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)}"))
    for table in tables:
        for index in table.indexes:
            await conn.execute(DropIndex(index, if_exists=True))


async def finish_loading(conn: AsyncConnection, table: Table) -> None:
    """A loaded table's indexes (PostgreSQL; those of its definition `empty_for_loading` dropped)
    and the planner's statistics, which the queries on it are planned with."""
    for index in table.indexes if is_postgres(conn) else ():
        await conn.execute(CreateIndex(index, if_not_exists=True))
    await conn.execute(text(f"ANALYZE {table.name}"))


async def swap_in(conn: AsyncConnection, live: Table, loaded: Table) -> None:
    """Within a transaction: `loaded`'s rows take `live`'s place. PostgreSQL swaps the two tables'
    names, and those of their primary keys and indexes (whose names begin with the table's), so
    the schema stays as migrated and `loaded` holds the rows `live` had; SQLite copies the rows
    over, and `loaded` keeps its own."""
    if not is_postgres(conn):
        await conn.execute(delete(live))
        await conn.execute(insert(live).from_select([c.name for c in live.columns], select(loaded)))
        return
    indexes = [live.primary_key.name, *(index.name for index in live.indexes)]
    renames = [("TABLE", live.name, loaded.name)]
    renames += [("INDEX", str(name), str(name).replace(live.name, loaded.name, 1)) for name in indexes]
    for kind, live_name, loaded_name in renames:
        parked = f"{live_name}_swapping"
        await conn.execute(text(f"ALTER {kind} {live_name} RENAME TO {parked}"))
        await conn.execute(text(f"ALTER {kind} {loaded_name} RENAME TO {live_name}"))
        await conn.execute(text(f"ALTER {kind} {parked} RENAME TO {loaded_name}"))
