"""Intake's reads: what is stored already, the backlog and the sequences of the sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_intake.domain.sequences import SourceSequence
from stroom_intake.tables import EventKey, events, source_sequences
from stroom_platform.dialect import chunks

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
    return await _stored(conn, keys, events.c.fingerprint)


async def entity_keys(conn: AsyncConnection, keys: Sequence[EventKey]) -> dict[EventKey, str]:
    return await _stored(conn, keys, events.c.entity_key)


async def _stored(
    conn: AsyncConnection, keys: Sequence[EventKey], column: Column[str]
) -> dict[EventKey, str]:
    """`column` of each stored event among `keys`."""
    found: dict[EventKey, str] = {}
    pair = tuple_(events.c.source, events.c.event_id)
    for chunk in chunks(keys):
        query = select(events.c.source, events.c.event_id, column).where(pair.in_(chunk))
        found.update({(s, i): value for s, i, value in (await conn.execute(query)).all()})
    return found


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
