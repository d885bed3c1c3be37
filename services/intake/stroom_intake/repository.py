"""Every query of the intake service: storing accepted events and reading the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_intake.domain.sequences import SourceSequence
from stroom_intake.tables import broker_epoch, events, source_sequences

EventKey = tuple[str, str]
# Two bound parameters per key; well under the limits of SQLite and asyncpg.
_CHUNK = 5000


def _chunks(keys: Sequence[EventKey]) -> Iterable[Sequence[EventKey]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


# What ingest stores per event, in `_COLUMNS` order: source, event_id, type, time, entity_key,
# fingerprint, wire. All rows of a batch share `received_at`.
NewEvent = tuple[str, str, str, datetime, str, str, str]
_COLUMNS = ("source", "event_id", "type", "time", "entity_key", "fingerprint", "wire")
_PG_TYPES = ("text", "text", "text", "timestamptz", "text", "text", "text")
# One statement per batch whatever its size: each column travels as one array parameter.
_ARRAYS = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _PG_TYPES, strict=True))
_PG_INSERT = text(
    f"INSERT INTO intake_events ({', '.join(_COLUMNS)}, received_at) "  # noqa: S608 - table and column names come from our own metadata, values are bound parameters
    f"SELECT *, CAST(:received_at AS timestamptz) FROM unnest({_ARRAYS}) "
    "ON CONFLICT (source, event_id) DO NOTHING RETURNING source, event_id"
)


async def insert_new(conn: AsyncConnection, rows: list[NewEvent], received_at: datetime) -> set[EventKey]:
    """Insert rows whose (source, id) is not stored yet; returns the keys actually inserted."""
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        columns = dict(zip(_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
        result = await conn.execute(_PG_INSERT, {**columns, "received_at": received_at})
    else:
        statement = (
            sqlite_insert(events)
            .on_conflict_do_nothing(index_elements=[events.c.source, events.c.event_id])
            .returning(events.c.source, events.c.event_id)
        )
        # SQLAlchemy sends this as multi-row INSERT .. VALUES pages ("insertmanyvalues").
        values = [{**dict(zip(_COLUMNS, row, strict=True)), "received_at": received_at} for row in rows]
        result = await conn.execute(statement, values)
    return {(source, event_id) for source, event_id in result.all()}


async def record_sequences(conn: AsyncConnection, numbered: Sequence[tuple[str, int]]) -> None:
    """(source, sequence) of newly accepted events; a number already recorded stays once."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(numbered), _CHUNK):
        rows = [{"source": s, "sequence": n} for s, n in numbered[start : start + _CHUNK]]
        await conn.execute(insert(source_sequences).on_conflict_do_nothing(), rows)


# Missing ranges: each number whose next number (in its source) is not its successor.
_GAPS = text(
    "SELECT source, sequence + 1 AS first, next - 1 AS last FROM ("
    " SELECT source, sequence, lead(sequence) OVER (PARTITION BY source ORDER BY sequence) AS next"
    " FROM intake_source_sequences) AS numbered"
    " WHERE next > sequence + 1 ORDER BY source, sequence"
)


async def sequences(conn: AsyncConnection, gaps_per_source: int = 10) -> list[SourceSequence]:
    """Per source with numbered events: lowest, highest, how many arrived, the first gaps."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for source, first, last in await conn.execute(_GAPS):
        kept = ranges.setdefault(source, [])
        if len(kept) < gaps_per_source:
            kept.append((first, last))
    seq = source_sequences.c
    query = select(seq.source, func.min(seq.sequence), func.max(seq.sequence), func.count()).group_by(
        seq.source
    )
    return [
        SourceSequence(source, lowest, highest, received, tuple(ranges.get(source, ())))
        for source, lowest, highest, received in (await conn.execute(query)).all()
    ]


async def fingerprints(conn: AsyncConnection, keys: Sequence[EventKey]) -> dict[EventKey, str]:
    found: dict[EventKey, str] = {}
    pair = tuple_(events.c.source, events.c.event_id)
    for chunk in _chunks(keys):
        query = select(events.c.source, events.c.event_id, events.c.fingerprint).where(pair.in_(chunk))
        found.update({(s, i): fp for s, i, fp in (await conn.execute(query)).all()})
    return found


async def entity_keys(conn: AsyncConnection, keys: Sequence[EventKey]) -> dict[EventKey, str]:
    found: dict[EventKey, str] = {}
    pair = tuple_(events.c.source, events.c.event_id)
    for chunk in _chunks(keys):
        query = select(events.c.source, events.c.event_id, events.c.entity_key).where(pair.in_(chunk))
        found.update({(s, i): key for s, i, key in (await conn.execute(query)).all()})
    return found


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    entity_key: str
    wire: str
    # When intake accepted the event: the record's timestamp, so consumers can tell freshness.
    received_at: datetime | None = None


# Statistics lag behind a table that grows by thousands of rows a second. Planned with them,
# the next batch may come from a bitmap scan that reads and sorts every unpublished row, each time;
# the partial index read in order stops after `limit` rows whatever the statistics say.
_PG_ORDERED_SCAN = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)"
)


async def unpublished(conn: AsyncConnection, limit: int, after: int = 0) -> list[Pending]:
    """The oldest rows after `after` not yet acknowledged by the broker, in sequence order."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_PG_ORDERED_SCAN)
    query = (
        select(events.c.seq, events.c.entity_key, events.c.wire, events.c.received_at)
        .where(events.c.published_at.is_(None), events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [Pending(*row) for row in (await conn.execute(query)).all()]


_PG_MARK_PUBLISHED = text(
    "UPDATE intake_events SET published_at = :at WHERE seq = ANY(CAST(:seqs AS bigint[]))"
)


async def mark_published(conn: AsyncConnection, seqs: Sequence[int], at: datetime) -> None:
    if conn.dialect.name == "postgresql":
        # One array parameter instead of thousands of bound ones.
        await conn.execute(_PG_MARK_PUBLISHED, {"seqs": list(seqs), "at": at})
        return
    for start in range(0, len(seqs), _CHUNK):
        chunk = seqs[start : start + _CHUNK]
        await conn.execute(update(events).where(events.c.seq.in_(chunk)).values(published_at=at))


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


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    oldest_received_at: datetime | None
    last_published_at: datetime | None


async def stored_per_type(conn: AsyncConnection) -> dict[str, int]:
    """Events stored per type, whichever way they came in (HTTP or `stroom import`)."""
    query = select(events.c.type, func.count()).group_by(events.c.type)
    return {str(event_type): int(count) for event_type, count in (await conn.execute(query)).all()}


async def backlog(conn: AsyncConnection) -> Backlog:
    pending = events.c.published_at.is_(None)
    count = await conn.scalar(select(func.count()).select_from(events).where(pending))
    oldest = await conn.scalar(select(events.c.received_at).where(pending).order_by(events.c.seq).limit(1))
    # The newest published row approximates the latest publication and stays an index scan.
    last = await conn.scalar(
        select(events.c.published_at)
        .where(events.c.published_at.is_not(None))
        .order_by(events.c.seq.desc())
        .limit(1)
    )
    return Backlog(count or 0, oldest, last)


# Committed events are announced here, so that a relay in another process need not poll.
STORED_CHANNEL = "stroom_intake_stored"


async def announce_stored(conn: AsyncConnection) -> None:
    """Within the storing transaction: PostgreSQL delivers the notification on commit."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"NOTIFY {STORED_CHANNEL}"))


@asynccontextmanager
async def stored_announcements(conn: AsyncConnection, callback: Callable[[], None]) -> AsyncIterator[None]:
    """Calls `callback` for each announcement while inside; `conn` must stay open and idle."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None

    def notified(*_: object) -> None:
        callback()

    await driver.add_listener(STORED_CHANNEL, notified)
    try:
        yield
    finally:
        await driver.remove_listener(STORED_CHANNEL, notified)


async def try_relay_lock(conn: AsyncConnection, key: int) -> bool:
    """A session-level PostgreSQL advisory lock: one relay at a time across processes."""
    return bool(await conn.scalar(select(func.pg_try_advisory_lock(key))))
