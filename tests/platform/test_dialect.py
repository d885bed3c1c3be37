"""stroom_platform.dialect gives the same answers on PostgreSQL and SQLite, also past SQLite's
limit of bound parameters per statement, and PostgreSQL's notifications arrive on commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_platform.db import make_engine
from stroom_platform.dialect import (
    CHUNK,
    OnConflict,
    PerEngine,
    UtcDateTime,
    alters_by_copying,
    among,
    append_rows,
    big_key,
    bound_values,
    chunks,
    delete_tails,
    delete_where_in,
    empty_for_loading,
    finish_loading,
    insert_dicts,
    insert_dicts_together,
    insert_new_rows,
    insert_on_conflict,
    insert_rows,
    is_postgres,
    json_rows_insert,
    least_of,
    lock_names,
    lock_out_writers,
    locked_transaction,
    member_of,
    notifications,
    notify,
    pair_member_of,
    refusal_left_behind,
    refuse_changes,
    select_where_in,
    share_transaction_lock,
    storage_tuning,
    swap_in,
    try_session_lock,
    unflushed_commits,
    update_rows,
    upsert_rows,
    write_rows,
    writers,
)

metadata = MetaData()
rows = Table(
    "dialect_rows",
    metadata,
    Column("id", big_key(), primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False),
    Column("at", UtcDateTime(), nullable=True),
)
versions = Table(
    "dialect_versions",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
)

swapped = MetaData()


def _swappable(name: str) -> Table:
    # Named as caseload's tables are: the key's and the index's names begin with the table's.
    return Table(
        name,
        swapped,
        Column("id", Integer, autoincrement=False),
        Column("name", String(50), nullable=False),
        PrimaryKeyConstraint("id", name=f"pk_{name}"),
        Index(f"ix_{name}_name", "name"),
    )


current, loaded = _swappable("dialect_live"), _swappable("dialect_live_next")

# More values than one SQLite statement may bind, so every helper has to split its work.
MANY = 2 * CHUNK + 17


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


async def test_utc_datetime_reads_back_the_same_moment_aware_and_refuses_a_naive_one(
    database_url: str,
) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(rows.insert().values(id=1, name="x", at=moment))
            stored = await conn.scalar(select(rows.c.at))
        assert stored == moment
        assert stored is not None
        assert stored.tzinfo is not None
        assert stored.utcoffset() == timedelta(0)
        assert stored.astimezone(UTC).hour == 23
        with pytest.raises(StatementError, match="time zone"):
            async with engine.begin() as conn:
                await conn.execute(rows.insert().values(id=2, name="y", at=datetime(2026, 1, 1)))
    finally:
        await engine.dispose()


async def test_notifications_arrive_after_commit_on_postgres_only(database_url: str) -> None:
    engine = make_engine(database_url)
    heard = asyncio.Event()
    try:
        async with engine.connect() as listener:
            async with notifications(listener, "stroom_dialect_test", heard.set):
                async with engine.begin() as conn:
                    await notify(conn, "stroom_dialect_test")
                    await asyncio.sleep(0.2)
                    # Inside the transaction nothing is delivered yet.
                    assert not heard.is_set()
                if is_postgres(listener):
                    await asyncio.wait_for(heard.wait(), 10)
                else:
                    await asyncio.sleep(0.2)
            postgres = is_postgres(listener)
        assert heard.is_set() == postgres
    finally:
        await engine.dispose()


def test_is_postgres_of_urls_and_of_what_is_bound_to_a_database() -> None:
    assert is_postgres("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert not is_postgres("sqlite+aiosqlite:///var/stroom.db")
    engine = make_engine("sqlite+aiosqlite://")
    assert not is_postgres(engine)
    assert not is_postgres(engine.dialect)


async def test_a_session_lock_keeps_out_other_sessions_on_postgres_only(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as first, engine.connect() as second:
            assert await try_session_lock(first, 4242)
            # SQLite has no other processes to keep out: every session holds it.
            assert await try_session_lock(second, 4242) == (not is_postgres(engine))
    finally:
        await engine.dispose()


async def test_locked_transactions_take_turns_and_commit(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        order: list[str] = []

        async def write(name: str, at: int, hold: float) -> None:
            async with locked_transaction(engine, 77) as conn:
                order.append(f"{name} in")
                await conn.execute(rows.insert().values(id=at, name=name))
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        first = asyncio.create_task(write("a", 1, 0.3))
        await asyncio.sleep(0.1)
        await write("b", 2, 0)
        await first
        # The second waited for the first to end before it began.
        assert order == ["a in", "a out", "b in", "b out"]
        async with engine.connect() as conn:
            assert (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all() == [
                (1, "a"),
                (2, "b"),
            ]
    finally:
        await engine.dispose()


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


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database that has the table `rows`."""
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


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


async def test_shared_locks_keep_out_only_who_locks_alone(engine: AsyncEngine) -> None:
    async with engine.begin() as first, engine.begin() as second:
        await share_transaction_lock(first, 88)
        await share_transaction_lock(second, 88)
        await lock_names(first, ["b", "a"])
        if is_postgres(engine):
            async with engine.connect() as other:
                for wait in (lock_out_writers(other, 88, rows), lock_names(other, ["a"])):
                    await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
                    with pytest.raises(DBAPIError, match="lock timeout"):
                        await wait
                    await other.rollback()
    # Once the sharers have ended, the one alone gets it; nothing was written by taking it.
    async with engine.begin() as alone:
        await lock_out_writers(alone, 88, rows)
        assert await alone.scalar(select(func.count()).select_from(rows)) == 0


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


def test_writers_side_by_side_only_on_postgres() -> None:
    assert writers("postgresql+asyncpg://postgres@127.0.0.1:5432/test", 4) == 4
    assert writers("sqlite+aiosqlite:///var/stroom.db", 4) == 1


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
        await delete_tails(conn, [versions, versions], "key", "version", [("a", 2), ("b", 0), ("d", 1)])
        await delete_tails(conn, [versions], "key", "version", [])
        left = (await conn.execute(select(versions).order_by(versions.c.key, versions.c.version))).all()
        named = (await conn.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all()
    assert [tuple(row) for row in left] == [("a", 0), ("a", 1), ("c", 0), ("c", 1), ("c", 2), ("c", 3)]
    assert [tuple(row) for row in named] == [(1, "EEN"), (2, "twee")]


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


async def test_engines_are_made_for_their_database(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            if is_postgres(engine):
                assert engine.pool.size() == 10  # type: ignore[attr-defined]
            else:
                # WAL, so that the API reads beside the one writer, and a writer waits for the lock.
                assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(text("PRAGMA busy_timeout")) == 30000
        assert alters_by_copying(engine) == (not is_postgres(engine))
    finally:
        await engine.dispose()
