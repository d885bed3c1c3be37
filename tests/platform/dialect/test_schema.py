"""Append-only tables, storage tuning, keys put in a collation, and a table set loaded beside the
live one and swapped in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dialect.tables import current, loaded, rows, swapped
from stroom_platform.dialect import (
    collated,
    empty_for_loading,
    finish_loading,
    is_postgres,
    refusal_left_behind,
    refuse_changes,
    storage_tuning,
    swap_in,
)


async def test_a_table_loaded_beside_the_live_one_is_indexed_analysed_and_swapped_in(
    engine: AsyncEngine,
) -> None:
    def schema(conn: Any, name: str) -> tuple[set[str], str | None]:
        found = inspect(conn)
        return {str(i["name"]) for i in found.get_indexes(name)}, found.get_pk_constraint(name)["name"]

    postgres = is_postgres(engine)
    async with engine.begin() as conn:
        await conn.run_sync(swapped.create_all)
        await conn.execute(current.insert(), [{"id": 1, "name": "oud"}])
        await conn.execute(loaded.insert(), [{"id": 9, "name": "vorige keer"}])
    async with engine.begin() as conn:
        await empty_for_loading(conn, [loaded])
        assert await conn.scalar(select(func.count()).select_from(loaded)) == 0
        indexes, _ = await conn.run_sync(schema, loaded.name)
        # PostgreSQL keeps only the key while loading; SQLite keeps its indexes.
        assert indexes == (set() if postgres else {"ix_dialect_live_next_name"})
        await conn.execute(loaded.insert(), [{"id": 2, "name": "nieuw"}, {"id": 3, "name": "ook"}])
    async with engine.begin() as conn:
        await finish_loading(conn, loaded)
        assert await conn.run_sync(schema, loaded.name) == (
            {"ix_dialect_live_next_name"},
            "pk_dialect_live_next",
        )
        analysed = (
            "SELECT reltuples FROM pg_class WHERE relname = 'dialect_live_next'"
            if postgres
            else "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'dialect_live_next'"
        )
        assert await conn.scalar(text(analysed)) == (2 if postgres else 1)
    async with engine.begin() as conn:
        await swap_in(conn, current, loaded)
    async with engine.connect() as conn:
        assert (await conn.execute(select(current).order_by(current.c.id))).all() == [
            (2, "nieuw"),
            (3, "ook"),
        ]
        # PostgreSQL swapped the names: the loaded table now holds the rows that were live.
        assert (await conn.execute(select(loaded).order_by(loaded.c.id))).all() == (
            [(1, "oud")] if postgres else [(2, "nieuw"), (3, "ook")]
        )
        for table in (current, loaded):
            assert await conn.run_sync(schema, table.name) == ({f"ix_{table.name}_name"}, f"pk_{table.name}")


async def test_a_loaded_table_is_analysed_without_the_columns_no_query_is_planned_on(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(swapped.create_all)
        await empty_for_loading(conn, [loaded])
        await conn.execute(loaded.insert(), [{"id": n, "name": f"naam {n}"} for n in range(50)])
    async with engine.begin() as conn:
        await finish_loading(conn, loaded, [loaded.c.name])
        if is_postgres(conn):
            found = await conn.scalars(
                text("SELECT attname FROM pg_stats WHERE tablename = 'dialect_live_next'")
            )
            assert set(found) == {"id"}
            assert (
                await conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'dialect_live_next'"))
                == 50
            )
        else:
            # SQLite's statistics are per index: the table is analysed whole.
            assert (
                await conn.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'dialect_live_next'"))
                == 1
            )


async def test_a_table_is_analysed_for_its_own_statistics_target_and_the_next_one_for_the_servers(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(swapped.create_all)
        await empty_for_loading(conn, [loaded, current])
        for table in (loaded, current):
            await conn.execute(table.insert(), [{"id": n, "name": f"naam {n}"} for n in range(500)])
    async with engine.begin() as conn:
        # In one transaction, as the rebuild finishes a connection's tables one after another.
        await finish_loading(conn, loaded, statistics_target=10)
        await finish_loading(conn, current)
        if is_postgres(conn):
            bounds = text(
                "SELECT array_length(histogram_bounds, 1) FROM pg_stats"
                " WHERE tablename = :table AND attname = 'id'"
            )
            # Statistics target 10: at most 11 bounds; the default 100: 101 for 500 distinct ids.
            assert await conn.scalar(bounds, {"table": loaded.name}) == 11
            assert await conn.scalar(bounds, {"table": current.name}) == 101
            assert await conn.scalar(text("SHOW default_statistics_target")) == "100"
        else:
            # SQLite's statistics are per index, without a sample size to choose.
            assert (
                await conn.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'dialect_live_next'"))
                == 1
            )


async def test_a_table_refusing_changes_takes_rows_and_refuses_updates_and_deletes(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        for statement in refuse_changes(conn, rows.name, "alleen aanvullen"):
            await conn.execute(text(statement))
        await conn.execute(rows.insert(), [{"id": 1, "name": "een"}, {"id": 2, "name": "twee"}])
    for change in (rows.update().values(name="ander"), rows.delete().where(rows.c.id == 1), rows.delete()):
        with pytest.raises(DBAPIError, match="alleen aanvullen"):
            async with engine.begin() as conn:
                await conn.execute(change)
    async with engine.begin() as conn:
        assert (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all() == [
            (1, "een"),
            (2, "twee"),
        ]
        await conn.run_sync(rows.drop)
        for statement in refusal_left_behind(conn, rows.name):
            await conn.execute(text(statement))
        if is_postgres(conn):
            left = await conn.scalar(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'dialect_rows_refuse_change'")
            )
            assert left == 0


def test_storage_tuning_only_on_postgres() -> None:
    tuning = ["ALTER TABLE t SET (fillfactor = 70)"]
    assert storage_tuning("postgresql+asyncpg://postgres@127.0.0.1:5432/test", tuning) == tuning
    assert storage_tuning("sqlite+aiosqlite:///var/stroom.db", tuning) == []


async def test_keys_put_in_collation_c_and_back_keep_their_rows_on_postgres_and_change_nothing_on_sqlite(
    engine: AsyncEngine,
) -> None:
    def collation(conn: Any) -> str | None:
        return next(c["type"].collation for c in inspect(conn).get_columns(rows.name) if c["name"] == "name")

    keys = [(rows.name, [("name", 50)])]
    ordered = select(rows.c.name).order_by(rows.c.name)
    async with engine.begin() as conn:
        await conn.execute(
            rows.insert(), [{"id": 1, "name": "a"}, {"id": 2, "name": "B"}, {"id": 3, "name": "é"}]
        )
        for statement in collated(conn, keys, "C"):
            await conn.execute(text(statement))
        assert await conn.run_sync(collation) == ("C" if is_postgres(conn) else None)
        # By codepoint, as Python orders str.
        assert (await conn.scalars(ordered)).all() == ["B", "a", "é"]
        for statement in collated(conn, keys, "default"):
            await conn.execute(text(statement))
        assert await conn.run_sync(collation) is None
        assert sorted((await conn.scalars(select(rows.c.name))).all()) == ["B", "a", "é"]
