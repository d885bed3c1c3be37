"""Bulk writes and the reads and deletes that go with them, one statement per table and
batch: on PostgreSQL every column travels as one array (binary COPY where nothing can
conflict), on SQLite the statement runs once per row within one call."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Container, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import asyncpg
from sqlalchemy import (
    Boolean,
    ColumnElement,
    CursorResult,
    Date,
    Enum,
    Integer,
    String,
    Table,
    TextClause,
    Update,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.dialect.engines import UtcDateTime, driver_in_transaction, driver_of, is_postgres
from stroom_platform.dialect.statements import SEPARATOR, OnConflict, joined_texts, member_of, sql_text

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
        return await conn.execute(sql_text(sql), {c: list(a) for c, a in zip(columns, arrays, strict=True)})
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
    driver = await driver_in_transaction(conn)
    # Binary COPY: the cheapest way in for many rows, both for Python and for the server.
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


async def append_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], records: Sequence[Sequence[Any]]
) -> None:
    """On a connection outside any transaction: the records stored, committed on their own. On
    PostgreSQL by binary COPY; where some keys are stored already (another writer was first),
    the stored rows are kept and only the others inserted."""
    if not is_postgres(conn):
        await conn.execute(sqlite.insert(table).on_conflict_do_nothing(), _dicts(columns, records))
        await conn.commit()
        return
    driver: Any = (await conn.get_raw_connection()).driver_connection
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.UniqueViolationError:
        # One statement for the whole batch, its columns as arrays: row by row, each of a
        # batch's thousands of rows would be a statement of its own for the server.
        keys = tuple(column.name for column in table.primary_key)
        sql = _insert_sql(conn, table, columns) + OnConflict(keys).sql()
        await _execute(conn, table, columns, records, sql)
        # The statement opened a transaction: a next COPY inside it that met a stored key
        # would abort it, and its own way round with it.
        await conn.commit()


# PostgreSQL's binary form of a moment: microseconds since its epoch.
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _pg_moment(moment: datetime) -> tuple[int]:
    # An aware moment only: a naive one raises here, where the driver would take it for local time.
    return ((moment - _PG_EPOCH) // _MICROSECOND,)


def _moment_of(value: tuple[int]) -> datetime:
    return _PG_EPOCH + timedelta(microseconds=value[0])


@asynccontextmanager
async def copied_moments(conn: AsyncConnection) -> AsyncIterator[None]:
    """While inside, asyncpg writes `timestamptz` values on `conn` from their microseconds since
    PostgreSQL's epoch, as a bulk load of rows with a moment each wants: its own encoder compares
    every aware moment with two naive ones (its infinities), each comparison a call of the
    moment's `utcoffset`, and costs twice as much per value. Decoding gives the same moments as
    asyncpg's own. Nothing to do on SQLite."""
    if not is_postgres(conn):
        yield
        return
    driver = await driver_of(conn)
    await driver.set_type_codec(
        "timestamptz", schema="pg_catalog", encoder=_pg_moment, decoder=_moment_of, format="tuple"
    )
    try:
        yield
    finally:
        await driver.reset_type_codec("timestamptz", schema="pg_catalog")


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
    where_sql: str | None = None,
) -> None:
    """Insert, or on a key conflict set columns to SQL over `excluded` and the stored row (only
    where `where_sql` holds, if given). The keys must be unique within `rows`."""
    if rows:
        sql = _insert_sql(conn, table, columns) + OnConflict(tuple(keys), set_sql, where_sql).sql()
        await _execute(conn, table, columns, rows, sql)


@dataclass(frozen=True, slots=True)
class Tails:
    """The rows of each of `tables` whose `key` is a cut's key and whose `position` is at least
    the cut's: `cuts` are (key, position)."""

    tables: tuple[Table, ...]
    key: str
    position: str
    cuts: Sequence[tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class Reopening:
    """The rows of each of `tables` whose `key` is an opening's key, whose `position` is below its
    cut and whose `column` is later than its moment get `column` NULL again: `openings` are
    (key, cut, moment). Below the cut: no `Tails` cut alike reaches the same rows."""

    tables: tuple[Table, ...]
    key: str
    position: str
    column: str
    openings: Sequence[tuple[Any, Any, Any]]


async def delete_tails(
    conn: AsyncConnection, tails: Sequence[Tails], reopenings: Sequence[Reopening] = ()
) -> None:
    """Delete the `tails` and reopen the `reopenings`; on PostgreSQL in one statement, whose
    parts must not reach the same row (they all see the rows as the statement began)."""
    tails = [t for t in tails if t.cuts and t.tables]
    reopenings = [r for r in reopenings if r.openings and r.tables]
    if not tails and not reopenings:
        return
    if not is_postgres(conn):
        for cut in tails:
            for table in cut.tables:
                await conn.execute(
                    delete(table).where(
                        table.c[cut.key] == bindparam("k"), table.c[cut.position] >= bindparam("v")
                    ),
                    [{"k": k, "v": v} for k, v in cut.cuts],
                )
        for reopening in reopenings:
            for table in reopening.tables:
                await conn.execute(
                    _sqlite_reopening(table, reopening.key, reopening.position, reopening.column),
                    [{"k": k, "v": v, "at": at} for k, v, at in reopening.openings],
                )
        return
    params: dict[str, list[Any]] = {}
    for n, cut in enumerate(tails):
        params[f"k{n}"], params[f"v{n}"] = [k for k, _ in cut.cuts], [v for _, v in cut.cuts]
    for n, reopening in enumerate(reopenings):
        params[f"ok{n}"] = [k for k, _, _ in reopening.openings]
        params[f"ov{n}"] = [v for _, v, _ in reopening.openings]
        params[f"oa{n}"] = [at for _, _, at in reopening.openings]
    shape = (
        tuple((cut.tables, cut.key, cut.position) for cut in tails),
        tuple((r.tables, r.key, r.position, r.column) for r in reopenings),
    )
    await conn.execute(_tails_sql(*shape), params)


@cache
def _sqlite_reopening(table: Table, key: str, position: str, column: str) -> Update:
    return (
        table.update()
        .where(
            table.c[key] == bindparam("k"),
            table.c[position] < bindparam("v"),
            table.c[column] > bindparam("at"),
        )
        .values({column: None})
    )


@cache
def _tails_sql(
    tails: tuple[tuple[tuple[Table, ...], str, str], ...],
    reopenings: tuple[tuple[tuple[Table, ...], str, str, str], ...],
) -> TextClause:
    parts: list[str] = []
    for n, (tables, key, position) in enumerate(tails):
        arrays = f"{_array(tables[0], key, f':k{n}')}, {_array(tables[0], position, f':v{n}')}"
        parts.extend(
            f"d{n}_{m} AS (DELETE FROM {t.name} USING unnest({arrays}) AS cut(k, v)"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
            f" WHERE {t.name}.{key} = cut.k AND {t.name}.{position} >= cut.v)"
            for m, t in enumerate(tables)
        )
    for n, (tables, key, position, column) in enumerate(reopenings):
        first = tables[0]
        arrays = (
            f"{_array(first, key, f':ok{n}')}, {_array(first, position, f':ov{n}')},"
            f" {_array(first, column, f':oa{n}')}"
        )
        parts.extend(
            f"o{n}_{m} AS (UPDATE {t.name} SET {column} = NULL FROM unnest({arrays}) AS o(k, v, at)"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
            f" WHERE {t.name}.{key} = o.k AND {t.name}.{position} < o.v AND {t.name}.{column} > o.at)"
            for m, t in enumerate(tables)
        )
    return text(f"WITH {', '.join(parts)} SELECT 1")


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
    await _execute(conn, table, names, rows, _update_sql(table, key, tuple(columns)))


@cache
def _update_sql(table: Table, key: str, columns: tuple[str, ...]) -> str:
    """Each new row looks its stored row up in the key's index (as `_looked_up`), and the rows
    found are updated by their ctid. Joined to the table instead, a batch of a few rows in a
    hundred of the table is planned as a scan of the whole table hashed against them, at a cost
    that grows with the table."""
    names = (key, *columns)
    arrays = ", ".join(_array(table, c, f":{c}") for c in names)
    values = ", ".join(f"new.{c}" for c in columns)
    found = (
        f"SELECT stored.ctid AS row_id, {values} FROM unnest({arrays}) AS new({', '.join(names)}),"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" LATERAL (SELECT ctid FROM {table.name} WHERE {table.name}.{key} = new.{key} OFFSET 0) AS stored"
    )
    sets = ", ".join(f"{c} = found.{c}" for c in columns)
    return (
        f"UPDATE {table.name} SET {sets} FROM ({found}) AS found"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" WHERE {table.name}.ctid = found.row_id"
    )


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


def _looked_up(table: Table, column: str, array: str, wanted: Sequence[str], alias: str) -> str:
    """A FROM list of `table`'s rows (their `wanted` columns, as `alias`) whose `column` is one of
    the values of `array`: PostgreSQL looks each value up in the column's index. In a plain join
    of the table to the values, a generic plan (which takes the array for ten values) or a table
    without statistics is planned as a scan of the whole table hashed against the values, which
    costs more as the table grows; a lateral subquery it cannot merge (OFFSET 0) has no other
    plan than the look-ups. `column = ANY(array)` could likewise be planned as a scan comparing
    every row with every value."""
    columns = ", ".join(wanted)
    return (
        f"unnest({array}) AS wanted(value), LATERAL (SELECT {columns} FROM {table.name} "  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f"WHERE {table.name}.{column} = wanted.value OFFSET 0) AS {alias}"
    )


def _array(table: Table, column: str, parameter: str, joined: bool = False) -> str:
    """The parameter as an array of the column's type; `joined`: a text of `_keys`, split."""
    source = f"string_to_array(CAST({parameter} AS text), chr({ord(SEPARATOR)}))" if joined else parameter
    return f"CAST({source} AS {table.c[column].type.compile(_PG)}[])"


def _keys(table: Table, column: str, values: Sequence[Any]) -> tuple[bool, Any]:
    """Whether `values` of `column` travel joined into one text (`joined_texts`), as a text
    column's do where they can be told apart, and the parameter that carries them: the keys of a
    batch's look-ups are tens of thousands of texts, each inspected by asyncpg in an array."""
    if isinstance(table.c[column].type, String):
        joined = joined_texts(values)
        if joined is not None:
            return True, joined
    return False, list(values)


async def select_where_in(
    conn: AsyncConnection, table: Table, column: str, values: Sequence[Any], wanted: Sequence[str]
) -> list[Any]:
    """The `wanted` columns of the rows whose `column` is one of `values` (each given once)."""
    if not values:
        return []
    if is_postgres(conn):
        joined, keys = _keys(table, column, values)
        if (row := _plain_row(table, tuple(wanted))) is not None:
            driver = await driver_in_transaction(conn)
            sql = _select_sql(table, column, tuple(wanted), "$1", joined)
            return [row(*record) for record in await driver.fetch(sql, keys)]
        typed = text(_select_sql(table, column, tuple(wanted), ":values", joined)).columns(
            *(table.c[c] for c in wanted)
        )
        return list(await conn.execute(typed, {"values": keys}))
    found: list[Any] = []
    for condition in member_of(conn, table.c[column], values):
        found.extend(await conn.execute(select(*(table.c[c] for c in wanted)).where(condition)))
    return found


async def select_grouped(
    conn: AsyncConnection,
    key: ColumnElement[Any],
    wanted: Sequence[ColumnElement[Any]],
    *where: ColumnElement[bool],
) -> list[tuple[Any, ...]]:
    """Per value of `key` among the rows `where` picks: that value, then a list per `wanted` column
    of those rows' values, all in one order. On PostgreSQL a row per value with the lists as
    arrays: a row each costs the driver and SQLAlchemy several times what an array element costs
    (many rows to few values, as a ledger's events to their sources). On SQLite gathered here."""
    if is_postgres(conn):
        # Every aggregate of a group takes its rows in the one order the group is read in.
        aggregated = select(key, *(func.array_agg(column) for column in wanted)).where(*where).group_by(key)
        return [tuple(row) for row in await conn.execute(aggregated)]
    grouped: dict[Any, tuple[list[Any], ...]] = {}
    for value, *values in await conn.execute(select(key, *wanted).where(*where)):
        lists = grouped.get(value)
        if lists is None:
            lists = grouped[value] = tuple([] for _ in wanted)
        for into, item in zip(lists, values, strict=True):
            into.append(item)
    return [(value, *lists) for value, lists in grouped.items()]


async def select_valid_since(
    conn: AsyncConnection,
    table: Table,
    column: str,
    values: Sequence[Any],
    wanted: Sequence[str],
    since: Sequence[Any],
) -> list[Any]:
    """`select_where_in` of a versioned table (`wanted` naming `column` and recorded_to) without
    the versions that ended before the moment `since` gives for their value: an entity's history
    before it is never read again."""
    if not values:
        return []
    if is_postgres(conn) and (row := _plain_row(table, tuple(wanted))) is not None:
        driver = await driver_in_transaction(conn)
        joined, keys = _keys(table, column, values)
        sql = _valid_since_sql(table, column, tuple(wanted), joined)
        return [row(*record) for record in await driver.fetch(sql, keys, since)]
    moment = dict(zip(values, since, strict=True))
    key, end = wanted.index(column), wanted.index("recorded_to")
    found = await select_where_in(conn, table, column, values, wanted)
    return [r for r in found if r[end] is None or r[end] >= moment[r[key]]]


@cache
def _valid_since_sql(table: Table, column: str, wanted: tuple[str, ...], joined: bool) -> str:
    columns = ", ".join(wanted)
    arrays = f"{_array(table, column, '$1', joined)}, {_array(table, 'recorded_to', '$2')}"
    # A lateral look-up per value, as in `_looked_up`.
    return (
        f"SELECT {columns} FROM unnest({arrays}) "  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f"AS wanted(value, since), LATERAL (SELECT {columns} FROM {table.name} WHERE {table.name}.{column} = "
        f"wanted.value AND ({table.name}.recorded_to IS NULL OR {table.name}.recorded_to >= wanted.since) "
        f"OFFSET 0) AS {table.name}"
    )


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
def _select_sql(table: Table, column: str, wanted: tuple[str, ...], parameter: str, joined: bool) -> str:
    found = _looked_up(table, column, _array(table, column, parameter, joined), wanted, table.name)
    return f"SELECT {', '.join(wanted)} FROM {found}"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters


async def delete_where_in(conn: AsyncConnection, table: Table, column: str, values: Sequence[Any]) -> None:
    """Delete the rows whose `column` is one of `values`."""
    if not values:
        return
    if is_postgres(conn):
        joined, keys = _keys(table, column, values)
        found = _looked_up(table, column, _array(table, column, ":values", joined), ("ctid",), "found")
        sql = f"DELETE FROM {table.name} USING {found} WHERE {table.name}.ctid = found.ctid"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        await conn.execute(text(sql), {"values": keys})
        return
    for condition in member_of(conn, table.c[column], values):
        await conn.execute(delete(table).where(condition))
