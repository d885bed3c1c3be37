"""Applies a batch of validated events in one transaction and says which facts to (re)publish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES, client_fact
from stroom_caseload.domain.events import Event
from stroom_caseload.domain.fold import history, kind_of
from stroom_caseload.domain.publication import client_record, entity_fact
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.tables import Tables, live
from stroom_contract.events import Envelope, EventRetractedData
from stroom_contract.keys import entity_key

# Live batches hold this shared; `stroom caseload rebuild` holds it exclusively to swap.
APPLY_LOCK = 0x5717_0AD


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One facts record: Kafka key and value."""

    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Applied:
    facts: list[Outgoing]
    new_by_type: Counter[str]
    duplicates: int


async def apply_events(conn: AsyncConnection, events: Sequence[Envelope], tables: Tables = live) -> Applied:
    """Ledger first, then recompute every touched entity under its lock; the caller commits."""
    repo = CaseloadRepository(conn, tables)
    if tables is live:
        await repo.share_apply_lock(APPLY_LOCK)
    recompute: set[str] = set()
    republish: set[str] = set()
    clients: set[tuple[str, str]] = set()
    new: Counter[str] = Counter()
    # A fixed order of row locks keeps two workers with overlapping batches out of deadlocks.
    for envelope in sorted(events, key=lambda e: (e.source, e.id)):
        wire = envelope.to_wire()
        event = Event.from_wire(wire)
        value = orjson.dumps(wire)
        if isinstance(envelope.data, EventRetractedData):
            retracted_id = envelope.data.retracted_id
            target = await repo.mark_retracted(event.source, retracted_id, event.time, event.id)
            key = target.entity_key or f"retraction:{event.source}:{retracted_id}"
            new[event.type] += (await repo.upsert_event(event, key, value)).new
            if target.entity_key is None or target.type is None:
                continue
            if target.type in CLIENT_EVENT_TYPES:
                clients.add((target.source, target.event_id))
            else:
                recompute.add(target.entity_key)
            continue
        key = entity_key(envelope) or ""
        upserted = await repo.upsert_event(event, key, value)
        new[event.type] += upserted.new
        if event.type in CLIENT_EVENT_TYPES:
            if upserted.new:
                record_id = f"{event.source}|{event.id}"
                fact = client_fact(event.type, event.data)
                await repo.save_client_fact(record_id, event.data["client"]["client_ref"], fact, event)
            clients.add((event.source, event.id))
        elif upserted.new:
            recompute.add(key)
        else:
            republish.add(key)

    facts: list[Outgoing] = []
    rows = await repo.client_rows(clients)
    await repo.sync_client_retractions(rows)
    for row in rows:
        event = Event.from_wire(row.wire)
        fact = client_fact(event.type, event.data)
        key, value = client_record(
            row.source, row.event_id, event.data, row.revision, event.time, row.retracted_at, fact
        )
        facts.append(Outgoing(key, value))

    keys = sorted(recompute)
    await repo.lock_entities(keys)
    stored = await repo.stored_events(keys)
    revisions = await repo.revisions(keys)
    saved = []
    for key in keys:
        kind = kind_of(f"stroom.{key.split(':', 1)[0]}.")
        versions = history(kind, stored[key])
        revision = revisions.get(key, 0) + 1
        value = entity_fact(kind, key, revision, versions)
        saved.append((key, kind, revision, value, versions))
        facts.append(Outgoing(key, value))
    await repo.save_entities(saved)
    current = await repo.current_facts(republish - recompute)
    facts.extend(Outgoing(key, value) for key, value in current.items())
    return Applied(facts, +new, len(events) - new.total())
