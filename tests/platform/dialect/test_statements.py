"""Conditions and statements built per engine give the same rows on both, also past SQLite's
limit of bound parameters per statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialect.tables import MANY, keys, metadata, rows, versions
from stroom_platform.db import make_engine
from stroom_platform.dialect import (
    CHUNK,
    PerEngine,
    among,
    bound_values,
    chunks,
    grouping_sets,
    insert_on_conflict,
    is_postgres,
    keyed_rows,
    least_of,
    list_position,
    listed,
    member_of,
    pair_member_of,
)


def test_chunks_cover_every_item_once_within_the_limit() -> None:
    items = list(range(MANY))
    parts = list(chunks(items))
    assert [len(part) for part in parts] == [CHUNK, CHUNK, 17]
    assert [item for part in parts for item in part] == items
    assert list(chunks([])) == []


async def test_insert_on_conflict_and_member_of_past_the_parameter_limit(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            statement = insert_on_conflict(conn, rows).on_conflict_do_nothing()
            for part in chunks(range(MANY)):
                await conn.execute(statement, [{"id": n, "name": f"first {n}"} for n in part])
            # Every row again under another name: ON CONFLICT keeps the first.
            for part in chunks(range(MANY)):
                await conn.execute(statement, [{"id": n, "name": f"again {n}"} for n in part])
        async with engine.connect() as conn:
            wanted = [*range(0, MANY, 2), MANY + 1, MANY + 2]  # the last two are not there
            conditions = member_of(conn, rows.c.id, wanted)
            # One array on PostgreSQL; on SQLite one IN list per chunk.
            assert len(conditions) == (1 if is_postgres(conn) else 2)
            found: list[tuple[int, str]] = []
            for condition in conditions:
                found.extend((await conn.execute(select(rows.c.id, rows.c.name).where(condition))).all())
            total = await conn.scalar(select(func.count()).select_from(rows))
        assert sorted(found) == [(n, f"first {n}") for n in range(0, MANY, 2)]
        assert total == MANY
    finally:
        await engine.dispose()


async def test_least_of_a_stored_value_passes_over_null(engine: AsyncEngine) -> None:
    early = datetime(2026, 1, 1, tzinfo=UTC)
    late = datetime(2026, 6, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            rows.insert(), [{"id": 1, "name": "leeg"}, {"id": 2, "name": "vroeg", "at": early}]
        )
        for at in (late, early, late):
            statement = insert_on_conflict(conn, rows)
            statement = statement.on_conflict_do_update(
                index_elements=[rows.c.id], set_={"at": least_of(conn, rows.c.at, statement.excluded.at)}
            )
            await conn.execute(
                statement, [{"id": 1, "name": "x", "at": at}, {"id": 2, "name": "x", "at": at}]
            )
        found = (await conn.execute(select(rows.c.id, rows.c.at).order_by(rows.c.id))).all()
    assert [tuple(row) for row in found] == [(1, early), (2, early)]


async def test_pair_member_of_finds_the_pairs_past_the_parameter_limit(engine: AsyncEngine) -> None:
    stored = [(f"k{n}", n) for n in range(MANY)]
    async with engine.begin() as conn:
        for part in chunks(stored):
            await conn.execute(versions.insert(), [{"key": k, "version": v} for k, v in part])
        # Every other pair, and pairs that mix a stored key with another's version.
        wanted = [*stored[::2], ("k1", 2), ("k3", 1), ("nergens", 0)]
        conditions = pair_member_of(conn, versions.c.key, versions.c.version, wanted)
        # Two arrays on PostgreSQL; on SQLite one list of pairs per chunk (more than one chunk here).
        assert len(conditions) == (1 if is_postgres(conn) else 2)
        found: list[tuple[str, int]] = []
        for condition in conditions:
            found.extend(tuple(row) for row in await conn.execute(select(versions).where(condition)))
    assert sorted(found) == sorted(stored[::2])


async def test_among_binds_any_number_of_values_as_one_parameter_of_one_statement(
    engine: AsyncEngine,
) -> None:
    built: list[bool] = []

    def build(postgres: bool) -> Any:
        built.append(postgres)
        return select(rows.c.id).where(among(rows.c.name, "names", postgres)).order_by(rows.c.id)

    statement = PerEngine(build)
    assert sorted(built) == [False, True]
    async with engine.begin() as conn:
        await conn.execute(rows.insert(), [{"id": n, "name": f"n{n}"} for n in range(MANY)])
        # More values than SQLite binds in one statement, and some that are not there.
        wanted = [f"n{n}" for n in range(0, MANY, 2)] + ["nergens", "één"]
        found = await conn.scalars(statement(conn), {"names": bound_values(conn, wanted)})
        assert list(found) == list(range(0, MANY, 2))
        assert list(await conn.scalars(statement(conn), {"names": bound_values(conn, [])})) == []
    # Built once for each engine, not per call.
    assert len(built) == 2


async def test_listed_values_come_as_rows_with_their_positions(engine: AsyncEngine) -> None:
    def build(postgres: bool) -> Any:
        values = listed("names", postgres)
        return select(values.c.value, list_position(values)).order_by(list_position(values))

    statement = PerEngine(build)
    async with engine.connect() as conn:
        names = ["zeta", "alfa", "één", "alfa"]
        found = await conn.execute(statement(conn), {"names": bound_values(conn, names)})
        assert [tuple(row) for row in found] == [("zeta", 0), ("alfa", 1), ("één", 2), ("alfa", 3)]


async def test_grouping_sets_sum_per_set_with_nulls_for_the_columns_a_set_lacks(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            versions.insert(), [{"key": k, "version": v} for k, v in (("a", 1), ("a", 2), ("b", 3), ("b", 4))]
        )
        source = select(versions.c.key, (versions.c.version % 2).label("odd"), versions.c.version).subquery()
        total = cast(func.sum(source.c.version), Integer).label("total")
        sets = (("key", "odd"), ("key",), ())
        grouped = grouping_sets(source, sets, [total], is_postgres(conn)).subquery()
        g = grouped.c
        found = await conn.execute(select(grouped).order_by(g.grouping_set, g.key, g.odd))
        assert [tuple(row) for row in found] == [
            ("a", 0, 2, 0),
            ("a", 1, 1, 0),
            ("b", 0, 4, 0),
            ("b", 1, 3, 0),
            ("a", None, 3, 1),
            ("b", None, 7, 1),
            (None, None, 10, 2),
        ]


async def test_keyed_rows_gives_the_rows_of_the_keys_bound_and_no_others(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(keys.insert(), [{"key": key} for key in ("a", "b", "c")])
    statement = keyed_rows(keys.c.key, [keys.c.key], "wanted", is_postgres(engine))
    async with engine.connect() as conn:
        found = (await conn.execute(statement, {"wanted": bound_values(conn, ["c", "zz", "a"])})).all()
        none = (await conn.execute(statement, {"wanted": bound_values(conn, [])})).all()
    assert sorted(key for (key,) in found) == ["a", "c"]
    assert none == []
