"""Intake's writes: storing accepted events, and the outbox's rows, marks and lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_intake.tables import EventKey, broker_epoch, events, source_sequences
from stroom_platform.dialect import (
    chunks,
    insert_new_rows,
    insert_on_conflict,
    member_of,
    notifications,
    notify,
    read_indexes_in_order,
)

# What ingest stores per event, in `_COLUMNS` order: source, event_id, type, time, entity_key,
# fingerprint, wire. All rows of a batch share `received_at`.
NewEvent = tuple[str, str, str, datetime, str, str, str]
_COLUMNS = ("source", "event_id", "type", "time", "entity_key", "fingerprint", "wire", "received_at")


async def insert_new(conn: AsyncConnection, rows: list[NewEvent], received_at: datetime) -> set[EventKey]:
    """Insert rows whose (source, id) is not stored yet; returns the keys actually inserted."""
    stamped = [(*row, received_at) for row in rows]
    inserted = await insert_new_rows(conn, events, _COLUMNS, stamped, ("source", "event_id"))
    return {(source, event_id) for source, event_id in inserted}


async def record_sequences(conn: AsyncConnection, numbered: Sequence[tuple[str, int]]) -> None:
    """(source, sequence) of newly accepted events; a number already recorded stays once."""
    statement = insert_on_conflict(conn, source_sequences).on_conflict_do_nothing()
    for chunk in chunks(numbered):
        await conn.execute(statement, [{"source": s, "sequence": n} for s, n in chunk])


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    entity_key: str
    wire: str
    # When intake accepted the event: the record's timestamp, so consumers can tell freshness.
    received_at: datetime | None = None


async def unpublished(conn: AsyncConnection, limit: int, after: int = 0) -> list[Pending]:
    """The oldest rows after `after` not yet acknowledged by the broker, in sequence order."""
    # Statistics lag behind a table that grows by thousands of rows a second. Planned with them,
    # the next batch may come from a bitmap scan that reads and sorts every unpublished row, each
    # time; the partial index read in order stops after `limit` rows whatever the statistics say.
    await read_indexes_in_order(conn)
    query = (
        select(events.c.seq, events.c.entity_key, events.c.wire, events.c.received_at)
        .where(events.c.published_at.is_(None), events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [Pending(*row) for row in (await conn.execute(query)).all()]


async def mark_published(conn: AsyncConnection, seqs: Sequence[int], at: datetime) -> None:
    for condition in member_of(conn, events.c.seq, seqs):
        await conn.execute(update(events).where(condition).values(published_at=at))


async def published_epoch(conn: AsyncConnection) -> str | None:
    epoch: str | None = await conn.scalar(select(broker_epoch.c.epoch).where(broker_epoch.c.id == 1))
    return epoch


async def republish_all(conn: AsyncConnection, epoch: str, at: datetime) -> int:
    """Within one transaction: every row counts as unpublished again, under `epoch` from now on."""
    result = await conn.execute(
        update(events).where(events.c.published_at.is_not(None)).values(published_at=None)
    )
    await conn.execute(delete(broker_epoch))
    await conn.execute(insert(broker_epoch).values(id=1, epoch=epoch, since=at))
    return result.rowcount or 0


# Committed events are announced here, so that a relay in another process need not poll.
STORED_CHANNEL = "stroom_intake_stored"


async def announce_stored(conn: AsyncConnection) -> None:
    """Within the storing transaction: PostgreSQL delivers the notification on commit."""
    await notify(conn, STORED_CHANNEL)


def stored_announcements(
    conn: AsyncConnection, callback: Callable[[], None]
) -> AbstractAsyncContextManager[bool]:
    """Calls `callback` for each announcement while inside; `conn` must stay open and idle."""
    return notifications(conn, STORED_CHANNEL, callback)
