"""Locks keep out whom they should, and PostgreSQL's notifications arrive on commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialect.tables import metadata, rows
from stroom_platform.db import make_engine
from stroom_platform.dialect import (
    ONE_CONNECTION,
    LockingTransactions,
    is_postgres,
    lock_names,
    lock_out_writers,
    locked_transaction,
    notifications,
    notify,
    share_transaction_lock,
    transaction_locking,
    try_session_lock,
)


async def test_notifications_arrive_after_commit_on_postgres_only(database_url: str) -> None:
    engine = make_engine(database_url)
    heard = asyncio.Event()
    try:
        async with engine.connect() as listener:
            async with notifications(listener, "stroom_dialect_test", heard.set) as listening:
                assert listening == is_postgres(listener)
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


async def test_a_listener_hears_when_its_connection_ends(database_url: str) -> None:
    engine = make_engine(database_url)
    ended = asyncio.Event()
    try:
        async with engine.connect() as listener:
            async with notifications(listener, "stroom_dialect_test", lambda: None, ended.set) as listening:
                if not listening:
                    return
                pid = await listener.scalar(text("SELECT pg_backend_pid()"))
                await listener.commit()
                async with engine.connect() as other:
                    await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await asyncio.wait_for(ended.wait(), 10)
            await listener.invalidate()
    finally:
        await engine.dispose()


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
        holding = asyncio.Event()

        async def write(name: str, at: int, hold: float) -> None:
            async with locked_transaction(engine, 77) as conn:
                order.append(f"{name} in")
                holding.set()
                await conn.execute(rows.insert().values(id=at, name=name))
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        first = asyncio.create_task(write("a", 1, 0.3))
        # The second starts once the first holds the lock, however slow the machine is to get there.
        await holding.wait()
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


async def _kept_out(
    engine: AsyncEngine, waits: Callable[[AsyncConnection], Iterable[Awaitable[None]]]
) -> None:
    """On PostgreSQL, each lock that `waits` asks for on another connection times out: it is held."""
    if not is_postgres(engine):
        return
    async with engine.connect() as other:
        for wait in waits(other):
            await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await wait
            await other.rollback()


async def test_shared_locks_keep_out_only_who_locks_alone(engine: AsyncEngine) -> None:
    async with engine.begin() as first, engine.begin() as second:
        await share_transaction_lock(first, 88)
        await share_transaction_lock(second, 88)
        await lock_names(first, ["b", "a"])
        await _kept_out(engine, lambda other: (lock_out_writers(other, 88, rows), lock_names(other, ["a"])))
    # Once the sharers have ended, the one alone gets it; nothing was written by taking it.
    async with engine.begin() as alone:
        await lock_out_writers(alone, 88, rows)
        assert await alone.scalar(select(func.count()).select_from(rows)) == 0


async def test_names_locked_with_a_shared_lock_hold_both(engine: AsyncEngine) -> None:
    async with engine.begin() as first, engine.begin() as second:
        await lock_names(first, ["b", "a"], shared=89)
        # Shared: another sharer takes it beside the first.
        await lock_names(second, ["c"], shared=89)
        await _kept_out(engine, lambda other: (lock_out_writers(other, 89, rows), lock_names(other, ["a"])))
    async with engine.begin() as alone:
        await lock_out_writers(alone, 89, rows)
        await lock_names(alone, ["a", "b"])


async def test_a_name_never_takes_a_lock_given_by_number_whatever_it_hashes_to(engine: AsyncEngine) -> None:
    if not is_postgres(engine):
        return
    async with engine.connect() as conn:
        hashed = await conn.scalar(text("SELECT hashtext('a')"))
    async with engine.begin() as first, engine.begin() as second:
        await share_transaction_lock(first, hashed)
        await second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        # Were a name's lock its hash alone, this would wait for the shared lock of that number.
        await lock_names(second, ["a"])
        async with transaction_locking(engine, ["b"], shared=hashed):
            pass
    async with engine.begin() as first, engine.begin() as second:
        await lock_names(first, ["a"])
        await second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        await lock_out_writers(second, hashed, rows)


# Names as hostile as an event may bring them: quotes, a statement, a backslash, non-ASCII; and
# more than one SELECT's list holds.
_HOSTILE = ["benefit:a'); DROP TABLE dialect_rows; --", "b\\'x", "één\u2028"]
_MANY = [f"n{number:04d}" for number in range(1500)]


async def test_a_transaction_locking_begins_with_the_locks_lock_names_takes_and_commits(
    engine: AsyncEngine,
) -> None:
    async with transaction_locking(engine, ["z", *_HOSTILE, *_MANY], shared=90) as first:
        await first.execute(rows.insert().values(id=1, name="een"))
        # Shared: a sharer takes it beside the first.
        async with transaction_locking(engine, ["y"], shared=90) as second:
            await second.execute(select(rows.c.id))
        await _kept_out(
            engine,
            lambda other: (
                lock_out_writers(other, 90, rows),
                *(lock_names(other, [n]) for n in ["z", *_HOSTILE, _MANY[-1]]),
            ),
        )
    # Committed on leaving; then the one alone gets the shared lock and the names.
    async with engine.begin() as alone:
        await lock_out_writers(alone, 90, rows)
        await lock_names(alone, ["z", *_HOSTILE])
        found = (await alone.execute(select(rows.c.id, rows.c.name).order_by(rows.c.id))).all()
    assert [tuple(row) for row in found] == [(1, "een")]


async def test_a_transaction_locking_rolls_back_on_an_error_and_its_connection_serves_again(
    engine: AsyncEngine,
) -> None:
    async def duplicate() -> None:
        async with transaction_locking(engine, ["a"], shared=91) as conn:
            await conn.execute(rows.insert().values(id=1, name="weg"))
            await conn.execute(rows.insert().values(id=1, name="dubbel"))

    async def failing() -> None:
        async with transaction_locking(engine, []) as conn:
            await conn.execute(rows.insert().values(id=2, name="ook weg"))
            raise RuntimeError

    with pytest.raises(DBAPIError):
        await duplicate()
    with pytest.raises(RuntimeError):
        await failing()
    # Every connection of the pool begins anew, outside any transaction and holding no lock.
    for _ in range(3):
        async with transaction_locking(engine, ["a"]) as conn:
            await conn.execute(rows.insert().values(id=3, name="blijft"))
            await conn.execute(rows.delete().where(rows.c.id == 3))
        if is_postgres(engine):
            async with engine.connect() as other:
                held = await other.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
                assert held == 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(rows)) == 0


async def _advisory_locks(engine: AsyncEngine) -> int:
    async with engine.connect() as other:
        return int(
            await other.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        )


async def test_locking_transactions_keep_their_connection_and_take_another_once_one_failed(
    engine: AsyncEngine,
) -> None:
    postgres = is_postgres(engine)
    # On an engine of its own that holds one connection, as the caseload worker's: a connection
    # not given back after a failure would leave the next transaction waiting for the pool.
    own = make_engine(engine.url, ONE_CONNECTION)
    transactions = LockingTransactions(own)

    async def backend(conn: AsyncConnection) -> int | None:
        return await conn.scalar(text("SELECT pg_backend_pid()")) if postgres else None

    async def insert(*values: tuple[int, str]) -> None:
        async with transactions.transaction(["a"]) as conn:
            for at, name in values:
                await conn.execute(rows.insert().values(id=at, name=name))

    async def failing() -> None:
        async with transactions.transaction([]) as conn:
            await conn.execute(rows.insert().values(id=4, name="ook weg"))
            raise RuntimeError

    try:
        async with transactions.transaction(["a", *_HOSTILE], shared=92) as conn:
            await conn.execute(rows.insert().values(id=1, name="een"))
            first = await backend(conn)
        async with transactions.transaction(["a"], shared=92) as conn:
            await conn.execute(rows.insert().values(id=2, name="twee"))
            assert await backend(conn) == first
            if postgres:
                # Its locks are held as `transaction_locking` holds them, those before let go.
                await _kept_out(
                    engine, lambda other: (lock_out_writers(other, 92, rows), lock_names(other, ["a"]))
                )
                assert await _advisory_locks(engine) == 2
        if postgres:
            assert await _advisory_locks(engine) == 0
        with pytest.raises(DBAPIError):
            await insert((3, "weg"), (1, "dubbel"))
        with pytest.raises(RuntimeError):
            await failing()
        async with transactions.transaction(["a"]) as conn:
            await conn.execute(rows.insert().values(id=5, name="vijf"))
            kept = await backend(conn)
        if postgres:
            assert await _advisory_locks(engine) == 0
            async with engine.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept})
                await other.commit()
                # Each look in a transaction of its own: one sees the activity as it first looked.
                gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
                async with asyncio.timeout(10):
                    while await other.scalar(gone, {"pid": kept}):
                        await other.rollback()
                        await asyncio.sleep(0.05)
            # The server ended the kept connection: that transaction fails as a database error,
            # which the worker tries again, and the next one runs on another connection.
            with pytest.raises(DBAPIError):
                await insert((6, "weg"))
            async with transactions.transaction(["a"]) as conn:
                await conn.execute(rows.insert().values(id=7, name="zeven"))
                assert await backend(conn) != kept
    finally:
        await transactions.close()
        await own.dispose()
    async with engine.connect() as conn:
        found = (await conn.execute(select(rows.c.id).order_by(rows.c.id))).scalars().all()
    assert found == ([1, 2, 5, 7] if postgres else [1, 2, 5])
