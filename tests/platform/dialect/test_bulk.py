"""Bulk writes, and the reads and deletes beside them, give the same rows on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialect.tables import MANY, metadata, recorded, rows, versions
from stroom_platform.db import make_engine
from stroom_platform.dialect import (
    append_rows,
    delete_where_in,
    insert_new_rows,
    insert_rows,
    is_postgres,
    select_grouped,
    select_valid_since,
    select_where_in,
    unflushed_commits,
    update_rows,
    upsert_rows,
    write_rows,
)


async def test_bulk_writes_give_the_same_rows_on_both_engines(database_url: str) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await insert_rows(conn, rows, ("id", "name", "at"), [(1, "een", moment), (2, "twee", None)])
            # Only 3 is new: 1 keeps its name, and only 3's key comes back.
            new = [(1, "nieuw"), (3, "drie")]
            assert await insert_new_rows(conn, rows, ("id", "name"), new, ("id",)) == [(3,)]
            await upsert_rows(
                conn,
                rows,
                ("id", "name"),
                [(2, "x"), (4, "vier")],
                ("id",),
                {"name": f"{rows.name}.name || '/' || excluded.name"},
            )
            await update_rows(conn, rows, "id", ("at",), [(4, moment), (99, moment)])
            # 4 is stored and is updated, 5 is not and is inserted.
            await write_rows(conn, rows, ("id", "name"), [(4, "VIER"), (5, "vijf")], {4})
            await delete_where_in(conn, rows, "id", [3])
            found = await select_where_in(conn, rows, "id", [1, 2, 3, 4, 5], ("id", "name", "at"))
        assert sorted(tuple(row) for row in found) == [
            (1, "een", moment),
            (2, "twee/x", None),
            (4, "VIER", moment),
            (5, "vijf", None),
        ]
    finally:
        await engine.dispose()


async def test_grouped_reads_give_each_values_rows_in_one_order(engine: AsyncEngine) -> None:
    moment = datetime(2026, 3, 29, tzinfo=UTC)
    stored = [(f"e{n % 3}", n, moment + timedelta(hours=n)) for n in range(MANY)]
    async with engine.begin() as conn:
        await insert_rows(conn, recorded, ("entity", "version", "recorded_from"), stored)
        found = await select_grouped(
            conn,
            recorded.c.entity,
            (recorded.c.version, recorded.c.recorded_from),
            recorded.c.version >= 2,
        )
    assert sorted(entity for entity, _, _ in found) == ["e0", "e1", "e2"]
    read = [(entity, *row) for entity, *columns in found for row in zip(*columns, strict=True)]
    assert sorted(read) == sorted(row for row in stored if row[1] >= 2)


async def test_versions_that_ended_before_their_entitys_moment_are_not_read(engine: AsyncEngine) -> None:
    moment = datetime(2026, 3, 29, tzinfo=UTC)
    hour = timedelta(hours=1)
    async with engine.begin() as conn:
        # Per entity: ended before the moment, at it, after it, and still open.
        stored = [
            (entity, version, ended)
            for entity in ("a", "b", "c")
            for version, ended in enumerate((moment - hour, moment, moment + hour, None))
        ]
        await insert_rows(conn, recorded, ("entity", "version", "recorded_to"), stored)
        found = await select_valid_since(
            conn,
            recorded,
            "entity",
            ["a", "b"],
            ("entity", "version", "recorded_to"),
            [moment, moment + 2 * hour],
        )
    assert sorted(tuple(row) for row in found) == [
        ("a", 1, moment),
        ("a", 2, moment + hour),
        ("a", 3, None),
        ("b", 3, None),
    ]


async def test_text_keys_that_cannot_travel_joined_are_read_and_deleted_alike(engine: AsyncEngine) -> None:
    # Text keys travel joined into one text that PostgreSQL splits: an empty key, or one holding
    # the separator, would split into other keys, so such keys travel as an array.
    odd = ["", "a\x1fb", "c"]
    async with engine.begin() as conn:
        await insert_rows(conn, versions, ("key", "version"), [(k, 1) for k in [*odd, "a", "b"]])
        found = await select_where_in(conn, versions, "key", odd, ("key", "version"))
        await delete_where_in(conn, versions, "key", ["a\x1fb", ""])
        left = await select_where_in(conn, versions, "key", ["", "a", "a\x1fb", "b", "c"], ("key",))
        ended = datetime(2026, 3, 29, tzinfo=UTC)
        stored = [("", 1, ended), ("x\x1fy", 1, None)]
        await insert_rows(conn, recorded, ("entity", "version", "recorded_to"), stored)
        valid = await select_valid_since(
            conn, recorded, "entity", ["", "x\x1fy", "x"], ("entity", "recorded_to"), [ended, ended, ended]
        )
    assert sorted(tuple(row) for row in found) == [("", 1), ("a\x1fb", 1), ("c", 1)]
    assert sorted(key for (key,) in left) == ["a", "b", "c"]
    assert sorted(tuple(row) for row in valid) == [("", ended), ("x\x1fy", None)]


async def test_reads_and_deletes_by_value_look_up_the_index_whatever_the_table_size(
    engine: AsyncEngine,
) -> None:
    if not is_postgres(engine):
        pytest.skip("the plans are PostgreSQL's")
    async with engine.begin() as conn:
        # Ten versions a key: a value stands for several rows, as an entity's in a spell table.
        stored = [(f"k{i}", v) for i in range(2_000) for v in range(10)]
        await insert_rows(conn, versions, ("key", "version"), stored)
        # A prepared statement's generic plan on a table without statistics, as in a long load:
        # planned as a scan of the whole table when the rows are joined to the values.
        await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        scans = text("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = :t")
        before = await conn.scalar(scans, {"t": versions.name})
        found = await select_where_in(conn, versions, "key", ["k7", "k1999", "k2000"], ("key", "version"))
        await delete_where_in(conn, versions, "key", ["k7", "k8"])
        assert await conn.scalar(scans, {"t": versions.name}) == before
        left = await conn.scalar(text(f"SELECT count(*) FROM {versions.name}"))
    assert sorted(tuple(row) for row in found) == [(k, v) for k in ("k1999", "k7") for v in range(10)]
    assert left == 19_980


async def test_updates_by_key_look_up_the_index_whatever_the_table_size(engine: AsyncEngine) -> None:
    if not is_postgres(engine):
        pytest.skip("the plans are PostgreSQL's")
    moment = datetime(2026, 3, 29, tzinfo=UTC)
    async with engine.begin() as conn:
        await insert_rows(conn, rows, ("id", "name"), [(i, f"r{i}") for i in range(20_000)])
        scans = text("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = :t")
        before = await conn.scalar(scans, {"t": rows.name})
        # A batch's rows closed at once, a few in a hundred of the table: joined to them, the
        # table was planned as a scan of every row hashed against them.
        await update_rows(
            conn, rows, "id", ("name", "at"), [(i, f"R{i}", moment) for i in range(0, 20_000, 40)]
        )
        assert await conn.scalar(scans, {"t": rows.name}) == before
        found = await select_where_in(conn, rows, "id", [39, 40, 19_960], ("id", "name", "at"))
    assert sorted(tuple(row) for row in found) == [
        (39, "r39", None),
        (40, "R40", moment),
        (19_960, "R19960", moment),
    ]


async def test_appended_rows_are_committed_and_keep_rows_stored_first(engine: AsyncEngine) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    async with engine.connect() as conn, unflushed_commits(conn):
        await append_rows(conn, rows, ("id", "name", "at"), [(1, "een", moment), (2, "twee", None)])
        await conn.commit()
        if is_postgres(engine):
            # 2 was stored first and keeps its name; 3 is new.
            await append_rows(conn, rows, ("id", "name"), [(2, "ander"), (3, "drie")])
            await conn.commit()
    async with engine.connect() as conn:
        found = (await conn.execute(select(rows).order_by(rows.c.id))).all()
        setting = await conn.scalar(text("SHOW synchronous_commit")) if is_postgres(engine) else None
    expected = [(1, "een", moment), (2, "twee", None)]
    if is_postgres(engine):
        expected.append((3, "drie", None))
        # Left as it was for whoever uses the connection next.
        assert setting == "on"
    assert [tuple(row) for row in found] == expected


async def test_appends_that_meet_stored_keys_one_after_another_each_commit_on_their_own(
    engine: AsyncEngine,
) -> None:
    """A rebuild worker appends a batch's tables one after another and commits at the end: a
    second collision must not land inside the transaction the first one's way round opened."""
    async with engine.connect() as conn, unflushed_commits(conn):
        await append_rows(conn, rows, ("id", "name"), [(1, "een"), (2, "twee")])
        await append_rows(conn, rows, ("id", "name"), [(2, "ander"), (3, "drie")])
        await append_rows(conn, rows, ("id", "name"), [(3, "anders"), (4, "vier")])
        await append_rows(conn, rows, ("id", "name"), [(5, "vijf")])
    async with engine.connect() as conn:
        found = (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all()
    assert [tuple(row) for row in found] == [(1, "een"), (2, "twee"), (3, "drie"), (4, "vier"), (5, "vijf")]
