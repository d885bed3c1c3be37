"""Schema that differs by engine: append-only triggers, PostgreSQL's storage tuning in
migrations, a table set loaded in bulk beside the live one and swapped in for it, and the space of
a queue table's deleted rows reclaimed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Column, Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex, DropIndex

from stroom_platform.dialect.engines import Where, is_postgres


def refuse_changes(where: Where, table: str, message: str) -> list[str]:
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


def refusal_left_behind(where: Where, table: str) -> list[str]:
    """What drops what `refuse_changes` made that dropping `table` leaves: PostgreSQL's function
    (SQLite's triggers go with the table)."""
    return [f"DROP FUNCTION IF EXISTS {table}_refuse_change()"] if is_postgres(where) else []


def storage_tuning(where: Where, statements: Sequence[str]) -> list[str]:
    """Storage parameters, index methods and collations (fillfactor, hash indexes, "C") are
    PostgreSQL's: the statements there, none on SQLite."""
    return list(statements) if is_postgres(where) else []


# Per table, its text keys: (column, length) pairs.
TextKeys = Sequence[tuple[str, Sequence[tuple[str, int]]]]


def collated(where: Where, keys: TextKeys, collation: str) -> list[str]:
    """The statements that put `keys` in `collation` ("C", "default") on PostgreSQL; none on
    SQLite. One per table: PostgreSQL rebuilds a table's indexes once for all its columns."""

    def altered(name: str, length: int) -> str:
        return f'ALTER COLUMN {name} TYPE varchar({length}) COLLATE "{collation}"'

    statements = [
        f"ALTER TABLE {table} " + ", ".join(altered(*c) for c in columns) for table, columns in keys
    ]
    return storage_tuning(where, statements)


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


async def finish_loading(
    conn: AsyncConnection,
    table: Table,
    unplanned: Collection[Column[Any]] = (),
    statistics_target: int | None = None,
) -> None:
    """A loaded table's indexes (PostgreSQL; those of its definition `empty_for_loading` dropped)
    and the planner's statistics, which the queries on it are planned with. `unplanned`: columns
    no query filters, joins or groups on (documents), which PostgreSQL leaves out: sorting a
    sample of long texts for their statistics took most of a large table's ANALYZE. `statistics_target`:
    instead of the server's (100): PostgreSQL samples 300 rows per unit of it, and sampling is
    most of an ANALYZE's cost."""
    if not is_postgres(conn):
        await conn.execute(text(f"ANALYZE {table.name}"))
        return
    for index in table.indexes:
        await conn.execute(CreateIndex(index, if_not_exists=True))
    planned = ", ".join(column.name for column in table.columns if column not in unplanned)
    analyse = text(f"ANALYZE {table.name} ({planned})")
    if statistics_target is None:
        await conn.execute(analyse)
        return
    setting = "default_statistics_target"
    before = await conn.scalar(text(f"SHOW {setting}"))
    # For this ANALYZE only: the caller's transaction may analyse other tables after it.
    await conn.execute(select(func.set_config(setting, str(statistics_target), True)))
    await conn.execute(analyse)
    await conn.execute(select(func.set_config(setting, before, True)))


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


async def reclaim(engine: AsyncEngine, table: Table) -> None:
    """The space of `table`'s deleted and replaced rows made free now, on a connection of its own
    and outside any transaction: for a queue whose rows come and go faster than autovacuum keeps
    up (and autovacuum can be off). On PostgreSQL every one of them stays in the table and its
    index until a VACUUM, and each read of the table steps over them; SQLite frees a deleted row's
    space as it deletes it."""
    if not is_postgres(engine):
        return
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(f"VACUUM {table.name}"))
