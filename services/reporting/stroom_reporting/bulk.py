"""Bulk statements of the projection: one round trip per table and batch, PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.dialect import is_postgres, member_of

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
) -> None:
    if is_postgres(conn):
        arrays = zip(*rows, strict=True)
        await conn.execute(text(sql), {c: list(a) for c, a in zip(columns, arrays, strict=True)})
        return
    # Typed parameters: the columns' own conversions (UTC times, dates) apply as in Core inserts.
    statement = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    await conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    if not is_postgres(conn):
        await _execute(conn, table, columns, rows, _insert_sql(conn, table, columns))
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver opens SQLAlchemy's transaction lazily, at the first statement: COPY must join it.
        await conn.execute(select(1))
    # Binary COPY: the cheapest way in for many rows, both for Python and for the server.
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


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
        sets = ", ".join(f"{c} = {expression}" for c, expression in set_sql.items())
        sql = _insert_sql(conn, table, columns) + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        await _execute(conn, table, columns, rows, sql)


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


async def select_where_in(
    conn: AsyncConnection, table: Table, column: str, values: Sequence[Any], wanted: Sequence[str]
) -> list[Any]:
    found: list[Any] = []
    for condition in member_of(conn, table.c[column], values) if values else []:
        found.extend(await conn.execute(select(*(table.c[c] for c in wanted)).where(condition)))
    return found


async def delete_where_in(conn: AsyncConnection, table: Table, column: str, values: Sequence[Any]) -> None:
    """Delete the rows whose `column` is one of `values`."""
    for condition in member_of(conn, table.c[column], values) if values else []:
        await conn.execute(delete(table).where(condition))
