"""How an engine is made for each database, the one question which one it is, and UTC times
stored alike on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, cast, event, literal, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from dialect.tables import keys, metadata, rows
from stroom_platform.db import make_engine
from stroom_platform.dialect import (
    alters_by_copying,
    among,
    bound_values,
    fetch_on_driver,
    fetch_rows,
    insert_dicts,
    is_postgres,
    make_reading_engine,
    stream_on_driver,
    writers,
)


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
        with pytest.raises(StatementError, match="tijdzone"):
            async with engine.begin() as conn:
                await conn.execute(rows.insert().values(id=2, name="y", at=datetime(2026, 1, 1)))
    finally:
        await engine.dispose()


async def test_key_text_is_ordered_by_codepoint_as_python_orders_str_and_cast_and_bound_as_text(
    engine: AsyncEngine,
) -> None:
    stored = ["b", "B", "a-1", "a_1", "a1", "é", "e", "Z9", "z", "ß"]
    async with engine.begin() as conn:
        # Rows as one JSON parameter on PostgreSQL, each value cast to its column's type.
        await insert_dicts(conn, keys, [{"key": key} for key in stored])
        ordered = (await conn.scalars(select(keys.c.key).order_by(keys.c.key))).all()
        # A cast to the column's type, and an array of it bound as one parameter on PostgreSQL.
        wanted = among(keys.c.key, "wanted", is_postgres(conn))
        found = (
            await conn.scalars(
                select(cast(keys.c.key, keys.c.key.type)).where(wanted),
                {"wanted": bound_values(conn, ["é", "B", "x"])},
            )
        ).all()
        also = await conn.scalar(select(keys.c.key).where(keys.c.key == cast(literal("ß"), keys.c.key.type)))
        collation = (
            await conn.scalar(
                text(
                    "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation"
                    " WHERE a.attrelid = 'dialect_keys'::regclass AND a.attname = 'key'"
                )
            )
            if is_postgres(conn)
            else None
        )
    assert ordered == sorted(stored)
    assert sorted(found) == ["B", "é"]
    assert also == "ß"
    assert collation == ("C" if is_postgres(engine) else None)


def test_is_postgres_of_urls_and_of_what_is_bound_to_a_database() -> None:
    assert is_postgres("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert not is_postgres("sqlite+aiosqlite:///var/stroom.db")
    engine = make_engine("sqlite+aiosqlite://")
    assert not is_postgres(engine)
    assert not is_postgres(engine.dialect)


def test_writers_side_by_side_only_on_postgres() -> None:
    assert writers("postgresql+asyncpg://postgres@127.0.0.1:5432/test", 4) == 4
    assert writers("sqlite+aiosqlite:///var/stroom.db", 4) == 1


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


@pytest.fixture
async def engines(postgres_server_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """A writing engine on PostgreSQL and the reading engine made from it."""
    engine = make_engine(postgres_server_url)
    reading = make_reading_engine(engine)
    yield engine, reading
    await reading.dispose()
    await engine.dispose()


async def test_a_reading_connection_the_server_closed_is_replaced_before_it_is_used(
    postgres_server_url: str, engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    _, reading = engines
    async with reading.connect() as conn:
        first = await conn.scalar(text("SELECT pg_backend_pid()"))
    admin = await asyncpg.connect(postgres_server_url.replace("+asyncpg", ""))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
    finally:
        await admin.close()
    # The server has closed it; the pooled connection hears so while the loop waits.
    await asyncio.sleep(0.1)
    async with reading.connect() as conn:
        second = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert second != first


async def test_a_reading_connection_plans_no_parallel_workers_and_no_connection_compiles(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    engine, reading = engines
    async with reading.connect() as conn:
        assert await conn.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
        assert await conn.scalar(text("SHOW jit")) == "off"
    # The writing engine keeps the server's parallel workers, but compiles nothing either.
    async with engine.connect() as conn:
        assert await conn.scalar(text("SHOW max_parallel_workers_per_gather")) != "0"
        assert await conn.scalar(text("SHOW jit")) == "off"


async def test_a_statement_on_the_driver_runs_in_the_transaction_and_fails_as_sqlalchemys_do(
    engine: AsyncEngine,
) -> None:
    if not is_postgres(engine):
        pytest.skip("SQLite's statements all run through SQLAlchemy")
    insert = text(f"INSERT INTO {rows.name} (id, name) VALUES (:id, :name) RETURNING id, name")

    async def undone() -> None:
        # The first statement of SQLAlchemy's transaction: the driver's joins it, and is undone with it.
        async with engine.begin() as conn:
            assert await fetch_on_driver(conn, insert, {"id": 1, "name": "een"}) == [(1, "een")]
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await undone()
    async with engine.begin() as conn:
        assert (await conn.execute(select(rows.c.id))).all() == []
        await fetch_on_driver(conn, insert, {"id": 2, "name": "twee"})
        # A refusal comes as SQLAlchemy's error of a statement, its SQLSTATE kept (the consumer
        # tries a deadlock again) and the values given left out.
        with pytest.raises(DBAPIError) as refused:
            await fetch_on_driver(conn, insert, {"id": 2, "name": "geheim-ps_0123"})
    assert refused.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    assert "geheim" not in str(refused.value)
    async with engine.connect() as conn:
        assert (await conn.execute(select(rows.c.id))).all() == []


async def test_fetched_rows_are_alike_on_both_engines_with_the_values_the_statement_binds_itself(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(rows.insert(), [{"id": i, "name": f"rij {i}"} for i in range(1, 4)])
    wanted = (
        select(rows.c.id, rows.c.name, literal(7, Integer).label("seven"))
        .where(rows.c.id >= bindparam("least"))
        .order_by(rows.c.id)
    )
    async with engine.connect() as conn:
        assert [tuple(row) for row in await fetch_rows(conn, wanted, {"least": 2})] == [
            (2, "rij 2", 7),
            (3, "rij 3", 7),
        ]
    if not is_postgres(engine):
        return
    # On a reading connection, which commits every statement, no statement goes first to join a
    # transaction there is none of.
    reading = make_reading_engine(engine)
    executed: list[str] = []
    event.listen(reading.sync_engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    try:
        async with reading.connect() as conn:
            assert len(await fetch_rows(conn, wanted, {"least": 1})) == 3
            assert len(await fetch_rows(conn, wanted, {"least": 3})) == 1
    finally:
        await reading.dispose()
    assert executed == []


async def test_a_streamed_statement_gives_its_rows_in_batches_of_the_size_asked_with_its_bound_values(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(rows.insert(), [{"id": i, "name": f"rij {i}"} for i in range(1, 12)])
    async with engine.connect() as conn:
        wanted = select(rows.c.id, rows.c.name).where(rows.c.id % 2 == 1, rows.c.name != "rij 5")
        batches = [list(batch) async for batch in stream_on_driver(conn, wanted.order_by(rows.c.id), 2)]
        # The rest of the transaction goes on after the stream.
        assert await conn.scalar(select(rows.c.name).where(rows.c.id == 4)) == "rij 4"
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert [(i, name) for batch in batches for i, name in batch] == [
        (1, "rij 1"),
        (3, "rij 3"),
        (7, "rij 7"),
        (9, "rij 9"),
        (11, "rij 11"),
    ]
