"""Applies a batch of validated events in one transaction and says which facts to (re)publish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES, client_fact
from stroom_caseload.domain.events import Decoded, Event, Mark, keep_earliest
from stroom_caseload.domain.fold import history
from stroom_caseload.domain.publication import client_record, revised_fact
from stroom_caseload.repository import CaseloadRepository, ClientRow, EntityWrite
from stroom_caseload.tables import Tables, live
from stroom_contract.events import Envelope, EventRetractedData
from stroom_contract.keys import entity_key, key_kind, kind_of_key
from stroom_contract.retractions import chain_keys, retraction_key

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


async def apply_events(
    conn: AsyncConnection, events: Sequence[Envelope | Decoded], tables: Tables = live
) -> Applied:
    """Ledger first, then recompute every touched entity under its lock; the caller commits.
    An event given with the JSON form it came in is stored in that form, not serialised anew."""
    repo = CaseloadRepository(conn, tables)
    if tables is live:
        await repo.share_apply_lock(APPLY_LOCK)
    # A redelivery inside the batch is a duplicate like any other.
    unique: dict[tuple[str, str], Envelope | Decoded] = {}
    for given in events:
        envelope = given.envelope if isinstance(given, tuple) else given
        unique.setdefault((envelope.source, envelope.id), given)
    # A fixed order of row locks keeps two workers with overlapping batches out of deadlocks.
    batch = []
    for _, given in sorted(unique.items()):
        envelope, wire = (
            (given.envelope, given.wire) if isinstance(given, tuple) else (given, given.to_wire())
        )
        batch.append((envelope, Event.from_wire(wire), orjson.dumps(wire).decode()))

    marks: dict[tuple[str, str], Mark] = {}
    retracted: dict[tuple[str, str], str] = {}
    keys: dict[tuple[str, str], str] = {}
    for envelope, event, _ in batch:
        if isinstance(envelope.data, EventRetractedData):
            retracted[(event.source, event.id)] = envelope.data.retracted_id
            keep_earliest(marks, (event.source, envelope.data.retracted_id), (event.time, event.id))
        else:
            keys[(event.source, event.id)] = entity_key(envelope) or ""
    targets = await repo.mark_retracted([(s, i, at, by) for (s, i), (at, by) in sorted(marks.items())])
    known = {(t.source, t.event_id): t.entity_key for t in targets if t.entity_key is not None}
    keys |= chain_keys(retracted, known | keys)

    rows: list[dict[str, Any]] = [
        {
            "source": event.source,
            "event_id": event.id,
            "entity_key": keys[(event.source, event.id)],
            "type": event.type,
            "time": event.time,
            "wire": wire_json,
        }
        for _, event, wire_json in batch
    ]
    new = await repo.upsert_events(rows)
    # Retractions stored before the event they retract wait under its `retraction_key`.
    await repo.rekey(
        {
            retraction_key(*ident): keys[ident]
            for ident, (retracted_at, _) in new.items()
            if retracted_at is not None and keys[ident] != retraction_key(*ident)
        }
    )

    touched: set[str] = set()
    republish: set[str] = set()
    clients: set[tuple[str, str]] = set()
    persons: set[str] = set()
    client_facts = []
    fresh: list[ClientRow] = []
    new_by_type: Counter[str] = Counter()
    for (envelope, event, _), row in zip(batch, rows, strict=True):
        ident = (event.source, event.id)
        is_new = ident in new
        new_by_type[event.type] += is_new
        key = row["entity_key"]
        if event.type in CLIENT_EVENT_TYPES:
            if is_new:
                fact = client_fact(event.type, event.data)
                client_facts.append(
                    (f"{event.source}|{event.id}", event.data["client"]["client_ref"], fact, event.time)
                )
                retracted_at, revision = new[ident]
                if retracted_at is None:
                    fresh.append(ClientRow(event.source, event.id, event, None, revision))
                    continue
            clients.add(ident)
        elif isinstance(envelope.data, EventRetractedData):
            # The end of its chain, once arrived, counts anew: an entity, or a person's records.
            kind = key_kind(key)
            if is_new and kind != "retraction":
                (persons if kind == "client" else touched).add(key)
        else:
            (touched if is_new else republish).add(key)
    # Marking counts a retracted row's revision up, also for a redelivered retraction: a point
    # fact's record is published at its row's revision.
    clients.update((t.source, t.event_id) for t in targets if t.type in CLIENT_EVENT_TYPES)
    await repo.save_client_facts(client_facts)

    # New client events are at hand; only redeliveries and retracted ones are read back.
    links = {ident for ident in retracted if ident in new}
    read = await repo.client_rows(clients, links) + await repo.person_rows(persons, links)
    await repo.sync_client_retractions(read)
    unique_rows = {(r.source, r.event_id): r for r in fresh + read}
    facts = client_records(list(unique_rows.values()))
    facts.extend(await _recompute(repo, sorted(touched)))
    current = await repo.current_facts(republish - touched)
    facts.extend(Outgoing(key, value) for key, value in current.items())
    return Applied(facts, +new_by_type, len(events) - new_by_type.total())


def client_records(client_rows: list[ClientRow]) -> list[Outgoing]:
    facts = []
    for client_row in client_rows:
        event = client_row.event
        fact = client_fact(event.type, event.data)
        key, value = client_record(
            client_row.source,
            client_row.event_id,
            event.data,
            client_row.revision,
            event.time,
            client_row.retracted_at,
            fact,
        )
        facts.append(Outgoing(key, value))
    return facts


async def _recompute(repo: CaseloadRepository, keys: list[str]) -> list[Outgoing]:
    """Fold each entity's stored events into its history, store what changed, give its new fact."""
    await repo.lock_entities(keys)
    stored = await repo.stored_events(keys)
    current = await repo.current(keys)
    saved = []
    for key in keys:
        kind = kind_of_key(key)
        versions = history(kind, stored[key])
        revision, previous = current.get(key, (0, None))
        fact, kept = revised_fact(previous, kind, key, revision + 1, versions)
        saved.append(EntityWrite(key, kind, revision + 1, fact, versions, kept))
    await repo.save_entities(saved)
    return [Outgoing(entity.key, entity.fact) for entity in saved]
