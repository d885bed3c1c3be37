"""Inserts of rows given as dicts, on PostgreSQL all of a table's rows as one JSON parameter
(an array per column costs asyncpg more in Python than the JSON costs the server) with long texts
beside it (`Texts`), and several tables' rows in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    CompoundSelect,
    Dialect,
    Select,
    Table,
    Update,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.dialect.engines import fetch_on_driver, is_postgres
from stroom_platform.dialect.statements import SEPARATOR, OnConflict, joined_texts, sql_text

# Columns of long texts (a JSON document of their own, say) whose values go beside the rows' JSON,
# each column's values in the rows' order: in the JSON, PostgreSQL reads such a text twice (the
# parameter is checked as JSON, then each row is read out of it) and copies out every escaped
# character one at a time.
# A column of `Texts` travels as one text (`joined_texts`), which PostgreSQL splits: a text array
# cost the client more than the JSON saved the server (asyncpg inspects every element).
Texts = Mapping[str, Sequence[str | None]]


def _with_texts(rows: Sequence[dict[str, Any]], texts: Texts | None) -> Sequence[dict[str, Any]]:
    """`rows` with the `texts` in them, as SQLite takes them."""
    if not texts:
        return rows
    return [row | {name: values[at] for name, values in texts.items()} for at, row in enumerate(rows)]


async def insert_dicts(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: OnConflict | None = None,
    returning: Sequence[str] = (),
    texts: Texts | None = None,
) -> list[Any]:
    """Insert `rows` (dicts with the same columns, and the columns of `texts`) with one statement,
    on PostgreSQL all of them in one JSON parameter (see `json_rows_insert`); the `returning`
    columns of the rows written."""
    if not rows:
        return []
    if not is_postgres(conn):
        statement = conflict.sqlite_insert(table) if conflict else sqlite.insert(table)
        given = _with_texts(rows, texts)
        if returning:
            # SQLAlchemy sends it as multi-row INSERT .. VALUES pages, which SQLite returns rows of.
            return list(await conn.execute(statement.returning(*(table.c[c] for c in returning)), given))
        await conn.execute(statement, given)
        return []
    sql, params = json_rows_insert(conn, table, rows, texts=texts)
    sql += conflict.sql() if conflict else ""
    if not returning:
        await conn.execute(sql_text(sql), params)
        return []
    typed = sql_text(f"{sql} RETURNING {', '.join(returning)}").columns(*(table.c[c] for c in returning))
    return list(await conn.execute(typed, params))


async def insert_dicts_reading(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: OnConflict | None,
    returning: Sequence[str],
    read: Select[Any],
    params: Mapping[str, Any],
    texts: Texts | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`insert_dicts` with `returning`, and the rows of `read` (a read of other tables, with its
    bound `params`): on PostgreSQL in the same statement, as a statement's round trip is most of
    a small batch's cost. `read` must not read `table`: on PostgreSQL it sees the database as
    the statement began, on SQLite (read after the insert) as the insert left it."""
    if not rows or not is_postgres(conn):
        written = await insert_dicts(conn, table, rows, conflict, returning, texts)
        return [tuple(row) for row in written], [tuple(row) for row in await conn.execute(read, dict(params))]
    sql, json_params = json_rows_insert(conn, table, rows, texts=texts)
    sql += conflict.sql() if conflict else ""
    statement = _insert_reading(table, sql, tuple(returning), read)
    width = len(returning)
    written, found = [], []
    for row in await fetch_on_driver(conn, statement, {**json_params, **params}):
        if row[0]:
            written.append(tuple(row[1 : 1 + width]))
        else:
            found.append(tuple(row[1 + width :]))
    return written, found


@lru_cache(maxsize=256)
def _insert_reading(
    table: Table, insert_sql: str, returning: tuple[str, ...], read: Select[Any]
) -> CompoundSelect[Any]:
    """`insert_dicts_reading`'s statement, built once for each shape: building it and working out
    its cache key cost the client about a third of a millisecond, a fair part of a small batch's
    cost. `read` is kept by identity: a read built anew for each call only takes a place here."""
    inserted = (
        sql_text(f"{insert_sql} RETURNING {', '.join(returning)}")
        .columns(*(table.c[c] for c in returning))
        .cte("written")
    )
    beside = read.subquery("beside")
    # One row shape for both: a row is the insert's (the first column true) or the read's.
    return union_all(
        select(
            literal_column("true").label("w"),
            *inserted.c,
            *(cast(null(), c.type).label(f"r{n}") for n, c in enumerate(beside.c)),
        ),
        select(
            literal_column("false"),
            *(cast(null(), c.type) for c in inserted.c),
            *beside.c,
        ),
    )


@dataclass(frozen=True, slots=True)
class Closing:
    """Set `column` of the rows of `table` matched on the `keys` columns, those where `column` is
    still NULL, to each row's value: `rows` are dicts of the keys and `column`."""

    table: Table
    keys: tuple[str, ...]
    column: str
    rows: Sequence[dict[str, Any]]


async def insert_dicts_together(
    conn: AsyncConnection,
    writes: Sequence[tuple[Table, Sequence[dict[str, Any]], OnConflict | None]],
    closings: Sequence[Closing] = (),
    texts: Mapping[Table, Texts] | None = None,
) -> None:
    """Each table's rows inserted as `insert_dicts` does, with the `texts` of their table (one
    that `writes` names once) beside them, after the `closings`, which see no row inserted here;
    on PostgreSQL all in one statement, since a statement's own cost is most of a small batch's."""
    texts = texts or {}
    writes = [write for write in writes if write[1]]
    closings = [closing for closing in closings if closing.rows]
    if not is_postgres(conn):
        for closing in closings:
            await conn.execute(
                _sqlite_closing(closing.table, closing.keys, closing.column),
                [{f"_{name}": value for name, value in row.items()} for row in closing.rows],
            )
        for table, rows, conflict in writes:
            await insert_dicts(conn, table, rows, conflict, texts=texts.get(table))
        return
    parts, params = [], {}
    for n, closing in enumerate(closings):
        sql = _closing_sql(conn.dialect, closing.table, closing.keys, closing.column, f"closed{n}")
        parts.append(f"u{n} AS ({sql})")
        params[f"closed{n}"] = _json(closing.rows)
    for n, (table, rows, conflict) in enumerate(writes):
        sql, table_params = json_rows_insert(conn, table, rows, f"rows{n}", texts.get(table))
        parts.append(f"i{n} AS ({sql}{conflict.sql() if conflict else ''})")
        params.update(table_params)
    if parts:
        await fetch_on_driver(conn, sql_text(f"WITH {', '.join(parts)} SELECT 1"), params)


@cache
def _sqlite_closing(table: Table, keys: tuple[str, ...], column: str) -> Update:
    matched = [table.c[key] == bindparam(f"_{key}") for key in keys]
    return table.update().where(*matched, table.c[column].is_(None)).values({column: bindparam(f"_{column}")})


@cache
def _closing_sql(dialect: Dialect, table: Table, keys: tuple[str, ...], column: str, param: str) -> str:
    """Each row of the parameter looks up its open row in an index, and the rows found are
    updated by their ctid. Joined to the table instead, the statement a worker sends again and
    again is planned once for any parameter after five runs: with statistics from before the
    open rows came (or none) it hashed every open row of the table for each batch, at a cost
    that grew with the table. A lateral subquery that cannot be merged (OFFSET 0) has no plan
    but the look-ups."""
    *matched, value = _recordset_values(dialect, table, (*keys, column))
    on = " AND ".join(f'stored."{key}" = {cast}' for key, cast in zip(keys, matched, strict=True))
    found = (
        f"SELECT open_row.ctid AS row_id, {value} AS value FROM {_recordset((*keys, column), param)},"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f' LATERAL (SELECT ctid FROM {table.name} AS stored WHERE {on} AND stored."{column}" IS NULL'
        f" OFFSET 0) AS open_row"
    )
    return (
        f'UPDATE {table.name} SET "{column}" = closed.value FROM ({found}) AS closed'  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" WHERE {table.name}.ctid = closed.row_id"
    )


def json_rows_insert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    param: str = "rows",
    texts: Texts | None = None,
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL's INSERT of `rows` (dicts with the same columns) as one JSON parameter named
    `param`: an array parameter per column costs the client more (asyncpg inspects each element
    in Python) than reading the JSON costs PostgreSQL. The columns of `texts` go beside it (see
    `Texts`), each in a text parameter named after `param` and its place. The statement and its
    parameters."""
    apart: tuple[str, ...] = ()
    joined: list[str | None] = []
    if texts:
        apart, joined = tuple(texts), [joined_texts(values) for values in texts.values()]
        if None in joined:
            # A text holding the separator, or an empty one: all of them inside the JSON.
            rows, apart, joined = _with_texts(rows, texts), (), []
    params: dict[str, Any] = {param: _json(rows)}
    params.update((f"{param}_{at}", text) for at, text in enumerate(joined))
    return _json_insert_sql(conn.dialect, table, tuple(rows[0]), param, apart), params


@cache
def _json_insert_sql(
    dialect: Dialect, table: Table, given: tuple[str, ...], param: str, apart: tuple[str, ...] = ()
) -> str:
    """The INSERT of `json_rows_insert` for rows with the keys `given` (in any order) and the
    columns `apart` beside them, built once for each: a statement of a live batch is built
    thousands of times a minute."""
    names = tuple(c.name for c in table.columns if c.name in given)
    inserted = (*names, *apart)
    values = ", ".join(_recordset_values(dialect, table, inserted))
    columns = ", ".join(f'"{name}"' for name in inserted)
    return (
        f"INSERT INTO {table.name} ({columns})"  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
        f" SELECT {values} FROM {_recordset(names, param, apart)}"
    )


def _json(rows: Sequence[dict[str, Any]]) -> str:
    # asyncpg stores a naive time as UTC; so does this.
    return orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()


def _recordset(names: tuple[str, ...], param: str, apart: tuple[str, ...] = ()) -> str:
    """The rows of the JSON parameter `param`, each of `names` read as text (`_recordset_values`),
    and beside them, row by row, the columns `apart` split from their texts (`json_rows_insert`)."""
    fields = ", ".join(f'"{name}" text' for name in names)
    if not apart:
        return f"json_to_recordset(CAST(:{param} AS json)) AS r({fields})"
    split = (
        f"string_to_array(CAST(:{param}_{at} AS text), chr({ord(SEPARATOR)}), '')" for at in range(len(apart))
    )
    arrays = "".join(f", unnest({array})" for array in split)
    aliases = ", ".join(f'"{name}"' for name in (*names, *apart))
    return f"ROWS FROM (json_to_recordset(CAST(:{param} AS json)) AS ({fields}){arrays}) AS r({aliases})"


def _recordset_values(dialect: Dialect, table: Table, names: tuple[str, ...]) -> list[str]:
    """Each of `names` of a `_recordset` row cast to its column's type in `table`."""
    # Read as text and cast, as a cast of an array would: an over-long string is cut, not refused.
    return [f'CAST(r."{name}" AS {table.c[name].type.compile(dialect=dialect)})' for name in names]
