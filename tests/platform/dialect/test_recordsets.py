"""Inserts of dicts (one JSON parameter on PostgreSQL) and several tables' writes in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialect.tables import recorded, rows, versions
from stroom_platform.dialect import (
    Closing,
    OnConflict,
    Reopening,
    Tails,
    delete_tails,
    insert_dicts,
    insert_dicts_reading,
    insert_dicts_together,
    is_postgres,
    json_rows_insert,
)


async def test_json_rows_insert_stores_the_rows_as_given(engine: AsyncEngine) -> None:
    if not is_postgres(engine):
        pytest.skip("the JSON recordset insert is PostgreSQL's technique")
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    async with engine.begin() as conn:
        given = [{"id": 1, "name": "één", "at": moment}, {"id": 2, "name": "twee", "at": None}]
        statement, params = json_rows_insert(conn, rows, given, "nieuw")
        await conn.execute(text(statement), params)
        found = (await conn.execute(select(rows).order_by(rows.c.id))).all()
    assert [tuple(row) for row in found] == [(1, "één", moment), (2, "twee", None)]


async def test_insert_dicts_on_conflict_keeps_or_sets_where_asked_and_returns_what_it_wrote(
    engine: AsyncEngine,
) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    async with engine.begin() as conn:
        assert await insert_dicts(conn, rows, []) == []
        written = await insert_dicts(
            conn, rows, [{"id": 1, "name": "een", "at": moment}, {"id": 2, "name": "twee", "at": None}]
        )
        assert written == []
        # Nothing on a conflict: only 3 is written, and only its key comes back.
        kept = await insert_dicts(
            conn, rows, [{"id": 1, "name": "x"}, {"id": 3, "name": "drie"}], OnConflict(("id",)), ("id",)
        )
        assert [tuple(row) for row in kept] == [(3,)]
        # Set over the stored row and `excluded`, but only where the stored row has no time yet.
        fill = OnConflict(
            ("id",),
            {"name": f"{rows.name}.name || '+' || excluded.name", "at": "excluded.at"},
            f"{rows.name}.at IS NULL",
        )
        filled = await insert_dicts(
            conn,
            rows,
            [
                {"id": 1, "name": "ander", "at": moment},
                {"id": 2, "name": "2", "at": moment},
                {"id": 4, "name": "vier", "at": None},
            ],
            fill,
            ("id", "name", "at"),
        )
        assert sorted(tuple(row) for row in filled) == [(2, "twee+2", moment), (4, "vier", None)]
        found = (await conn.execute(select(rows).order_by(rows.c.id))).all()
    assert [tuple(row) for row in found] == [
        (1, "een", moment),
        (2, "twee+2", moment),
        (3, "drie", None),
        (4, "vier", None),
    ]


async def test_insert_dicts_takes_texts_beside_the_rows_and_stores_them_in_their_rows(
    engine: AsyncEngine,
) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    # JSON of its own, escapes and all, as an event's wire is: stored as given.
    document = '{"a":"\\"é\\n","b":[1,null]}'
    read = select(versions.c.key).where(versions.c.version >= bindparam("least"))
    async with engine.begin() as conn:
        await conn.execute(versions.insert(), [{"key": "a", "version": 1}])
        written = await insert_dicts(
            conn,
            rows,
            [{"id": 1, "at": moment}, {"id": 2, "at": None}],
            None,
            ("id", "name"),
            {"name": [document, "twee"]},
        )
        assert sorted(tuple(row) for row in written) == [(1, document), (2, "twee")]
        replace = OnConflict(("id",), {"name": "excluded.name"})
        again, found = await insert_dicts_reading(
            conn,
            rows,
            [{"id": 2}, {"id": 3}],
            replace,
            ("id", "name"),
            read,
            {"least": 1},
            {"name": ["2", "drie"]},
        )
        assert sorted(again) == [(2, "2"), (3, "drie")]
        assert found == [("a",)]
        await insert_dicts_together(
            conn,
            [(versions, [{"key": "b", "version": 2}], None), (rows, [{"id": 3}, {"id": 4}], replace)],
            texts={rows: {"name": ["DRIE", "vier"]}},
        )
        # Texts that could not be told apart once joined (an empty one, one holding the
        # separator) are stored as given all the same.
        await insert_dicts(conn, rows, [{"id": 5}, {"id": 6}], texts={"name": ["", "x\x1fy"]})
        stored = (await conn.execute(select(rows).order_by(rows.c.id))).all()
        keys = (await conn.execute(select(versions.c.key).order_by(versions.c.key))).scalars().all()
    assert [tuple(row) for row in stored] == [
        (1, document, moment),
        (2, "2", None),
        (3, "DRIE", None),
        (4, "vier", None),
        (5, "", None),
        (6, "x\x1fy", None),
    ]
    assert keys == ["a", "b"]


async def test_insert_dicts_together_writes_every_table_and_delete_tails_cuts_each_key(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(rows.insert(), [{"id": 1, "name": "een"}])
        replace = OnConflict(("id",), {"name": "excluded.name"})
        await insert_dicts_together(
            conn,
            [
                (versions, [{"key": k, "version": v} for k in ("a", "b", "c") for v in range(4)], None),
                (rows, [], None),
                (rows, [{"id": 1, "name": "EEN"}, {"id": 2, "name": "twee"}], replace),
            ],
        )
        # a from version 2 on, b from 0 (all of it), c not at all; d has no rows.
        await delete_tails(
            conn, [Tails((versions, versions), "key", "version", [("a", 2), ("b", 0), ("d", 1)])]
        )
        await delete_tails(conn, [Tails((versions,), "key", "version", [])])
        left = (await conn.execute(select(versions).order_by(versions.c.key, versions.c.version))).all()
        named = (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all()
    assert [tuple(row) for row in left] == [("a", 0), ("a", 1), ("c", 0), ("c", 1), ("c", 2), ("c", 3)]
    assert [tuple(row) for row in named] == [(1, "EEN"), (2, "twee")]


async def test_insert_dicts_reading_returns_what_it_wrote_and_what_the_read_found(
    engine: AsyncEngine,
) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    read = select(versions.c.key, versions.c.version).where(versions.c.version >= bindparam("least"))
    async with engine.begin() as conn:
        await conn.execute(versions.insert(), [{"key": "a", "version": 1}, {"key": "b", "version": 3}])
        await conn.execute(rows.insert(), [{"id": 1, "name": "een"}])
        written, found = await insert_dicts_reading(
            conn,
            rows,
            [{"id": 1, "name": "x", "at": moment}, {"id": 2, "name": "twee", "at": moment}],
            OnConflict(("id",)),
            ("id", "at"),
            read,
            {"least": 2},
        )
        assert written == [(2, moment)]
        assert found == [("b", 3)]
        # Nothing to write: the read alone.
        alone = await insert_dicts_reading(conn, rows, [], None, ("id",), read, {"least": 0})
        assert alone[0] == []
        assert sorted(alone[1]) == [("a", 1), ("b", 3)]
        stored = (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all()
    assert [tuple(row) for row in stored] == [(1, "een"), (2, "twee")]


async def test_insert_dicts_together_closes_open_rows_before_its_inserts(engine: AsyncEngine) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    later, closed_before = start + timedelta(days=2), start + timedelta(days=1)
    async with engine.begin() as conn:
        await conn.execute(
            recorded.insert(),
            [
                {"entity": "a", "version": 0, "recorded_from": start, "recorded_to": None},
                {"entity": "b", "version": 0, "recorded_from": start, "recorded_to": closed_before},
                {"entity": "c", "version": 0, "recorded_from": start, "recorded_to": None},
                {"entity": "e", "version": 0, "recorded_from": start, "recorded_to": None},
            ],
        )
        ends = [{"entity": key, "version": 0, "recorded_to": later} for key in ("a", "b", "d")]
        await insert_dicts_together(
            conn,
            [(recorded, [{"entity": "c", "version": 1, "recorded_from": later, "recorded_to": None}], None)],
            [
                Closing(recorded, ("entity", "version"), "recorded_to", ends),
                # Matches c's row inserted here too, which stays open.
                Closing(recorded, ("entity",), "recorded_to", [{"entity": "c", "recorded_to": later}]),
                Closing(recorded, ("entity",), "recorded_to", []),
            ],
        )
        found = (await conn.execute(select(recorded).order_by(recorded.c.entity, recorded.c.version))).all()
    assert [tuple(row) for row in found] == [
        ("a", 0, start, later),
        ("b", 0, start, closed_before),
        ("c", 0, start, later),
        ("c", 1, later, None),
        ("e", 0, start, None),
    ]


async def test_closing_a_few_rows_looks_them_up_in_the_index_not_the_whole_table(engine: AsyncEngine) -> None:
    if not is_postgres(engine):
        pytest.skip("PostgreSQL's plan of the JSON recordset join")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    later = start + timedelta(days=1)
    async with engine.begin() as conn:
        # Some thousands of open rows, and statistics taken while every row was closed, as a live
        # table's can be between two analyses: the open rows look like none, and a hash join
        # reading them all looked cheaper than a lookup in the key per row closed.
        await _store_versions(conn, range(1, 201), start, start)
        await conn.execute(text(f"ANALYZE {recorded.name}"))
        await _store_versions(conn, range(201, 20001), start, None)
    scans = text(
        "SELECT seq_scan, idx_scan, seq_tup_read + coalesce(idx_tup_fetch, 0) AS read"
        " FROM pg_stat_xact_user_tables WHERE relname = :name"
    )
    async with engine.begin() as conn:
        # Counted in this backend since its counts were last reported, so taken before and after.
        before = (await conn.execute(scans, {"name": recorded.name})).one()
        # The same statement time after time, as a live worker sends it: after five runs
        # PostgreSQL may plan it once for any parameter, without the count of rows it holds.
        for batch in range(10):
            ends = [
                {"entity": f"e{1000 + 2 * batch + n}", "version": 0, "recorded_to": later} for n in (0, 1)
            ]
            await insert_dicts_together(
                conn, [], [Closing(recorded, ("entity", "version"), "recorded_to", ends)]
            )
        after = (await conn.execute(scans, {"name": recorded.name})).one()
        closed = (await conn.execute(select(recorded.c.entity).where(recorded.c.recorded_to == later))).all()
    assert sorted(entity for (entity,) in closed) == sorted(f"e{n}" for n in range(1000, 1020))
    # Lookups in the key, and no read of the whole table nor of every open row.
    assert after.seq_scan == before.seq_scan
    assert after.idx_scan > before.idx_scan
    assert after.read - before.read <= 4 * len(closed)


async def test_delete_tails_reopens_the_rows_below_each_cut_closed_after_its_moment(
    engine: AsyncEngine,
) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(
            recorded.insert(),
            [
                {
                    "entity": e,
                    "version": v,
                    "recorded_from": t0 + v * hour,
                    "recorded_to": t0 + (v + 1) * hour,
                }
                for e in ("a", "b")
                for v in range(4)
            ],
        )
        # a: versions from 2 on go, those before 2 closed after 0:30 open again (version 1,
        # and version 0, closed at 1:00); b only reopened after 2:30, below version 3.
        await delete_tails(
            conn,
            [Tails((recorded,), "entity", "version", [("a", 2)])],
            [
                Reopening(
                    (recorded,),
                    "entity",
                    "version",
                    "recorded_to",
                    [("a", 2, t0 + hour / 2), ("b", 3, t0 + 2.5 * hour), ("c", 1, t0)],
                )
            ],
        )
        found = (await conn.execute(select(recorded).order_by(recorded.c.entity, recorded.c.version))).all()
    assert [(e, v, to) for e, v, _, to in found] == [
        ("a", 0, None),
        ("a", 1, None),
        ("b", 0, t0 + hour),
        ("b", 1, t0 + 2 * hour),
        ("b", 2, None),
        ("b", 3, t0 + 4 * hour),
    ]


async def _store_versions(
    conn: AsyncConnection, entities: range, recorded_from: datetime, recorded_to: datetime | None
) -> None:
    """Version 0 of the entities `e<n>` for each n of `entities`."""
    await conn.execute(
        text(
            f"INSERT INTO {recorded.name} (entity, version, recorded_from, recorded_to)"
            " SELECT 'e' || n, 0, :recorded_from, :recorded_to"
            " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
        ),
        {
            "recorded_from": recorded_from,
            "recorded_to": recorded_to,
            "first": entities.start,
            "last": entities.stop - 1,
        },
    )
