"""Every entity and client fact of the shadow set: from the events a ledger held while loading,
or from the complete shadow ledger, in one pass in entity order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import datetime
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_caseload.domain.client import client_point
from stroom_caseload.domain.events import Event, Stored, counted, effective
from stroom_caseload.domain.fold import Typed, history, unretracted_history
from stroom_caseload.domain.plan import EntityWrite, entity_write, entity_written
from stroom_caseload.domain.publication import client_record, record_id
from stroom_caseload.rebuild.bulk import BulkWriter
from stroom_caseload.rebuild.shadow_ledger import Held, HeldEvents
from stroom_caseload.repository import (
    CLIENT_FACT_COLUMNS,
    STATE_COLUMNS,
    client_fact_values,
    ledger_event,
    state_values,
)
from stroom_caseload.tables import live, shadow
from stroom_contract.facts import ClientFact, Version
from stroom_contract.keys import key_kind, kind_of_key
from stroom_contract.retractions import Retractions
from stroom_contract.types import JSONObject

# A client record to publish: its record id (`source|id`), Kafka key and value.
Record = tuple[str, bytes, bytes]
# The `data` of an event whose point fact, or typed data, was read from it when loaded.
_READ: JSONObject = MappingProxyType({})
# Entities per append: large enough for COPY to pay off, small enough to keep memory flat.
CHUNK = 5000
_record_id = itemgetter(0)


# The entities table's columns in the order of `_Chunk.entity`'s values.
_ENTITY_COLUMNS = ("entity_key", "kind", "revision", "fact")


class _Chunk:
    def __init__(self) -> None:
        # Each table's rows as `state_values` gives them, in `STATE_COLUMNS` order.
        self.rows: dict[Table, list[tuple[Any, ...]]] = defaultdict(list)
        # The client facts' rows as `client_fact_values` gives them: nearly every event's.
        self.clients: list[tuple[Any, ...]] = []
        self.entities = 0

    @property
    def full(self) -> bool:
        return self.entities + len(self.clients) >= CHUNK

    async def append(self, writer: BulkWriter) -> None:
        # Each append is a commit of its own: none for a chunk of only entities or only persons.
        if self.rows:
            await writer.append(
                (table, _ENTITY_COLUMNS if table is shadow.entities else STATE_COLUMNS[table], rows)
                for table, rows in self.rows.items()
            )
        if self.clients:
            await writer.append_tuples(shadow.client_facts, CLIENT_FACT_COLUMNS, self.clients)

    def entity(self, entity: EntityWrite) -> None:
        # The swap's revisions (`run._continue_revisions`) and republication read it back.
        assert entity.fact is not None, "a whole fold keeps its full change"
        key = entity.key
        for table, row in state_values(shadow, key, entity.versions).rows:
            self.rows[table].append(row)
        self.rows[shadow.entities].append((key, entity.kind, entity.revision, entity.fact.decode()))
        self.entities += 1

    def client(
        self, record: str, point: tuple[str, ClientFact], recorded_at: datetime, retracted_at: datetime | None
    ) -> None:
        """A person's point fact: its record id, its person and fact (see `client_point`), when
        it was recorded and when it last stopped counting (None while it counts)."""
        client_ref, fact = point
        self.clients.append(client_fact_values(record, client_ref, fact, recorded_at, retracted_at))


async def _live_revisions(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(live.entities.c.entity_key, live.entities.c.revision))
    # Rows as pairs: reading a row's values by name cost several times as much, for every live
    # entity. Of the rows listed: a result has keys() (its columns), so dict() took it for a mapping.
    return dict(rows.all())


async def fold_held(
    engine: AsyncEngine,
    writer: BulkWriter,
    held: HeldEvents,
    retractions: Retractions,
    strays: Collection[str],
) -> list[Record]:
    """As `refold`, for the entities and persons a ledger held, but for `strays`; `retractions`
    are those of the whole topic. Gives the client records to republish once swapped in, with
    the revisions their ledger rows will have then (marking a retraction counts one up), as
    (record id, key, value)."""
    retracted = retractions.targets
    touched = held.touched(retracted)
    # Each `Typed` made by `tuple.__new__` in C: a named tuple's own constructor is a Python
    # function, a call more per event.
    made = tuple.__new__

    def stored(event: Held) -> Stored:
        source, event_id, kind, time, data, _ = event
        return counted(Event(source, event_id, kind, time, _READ, data), retractions)

    # Without a `Memo` of where each fold ended: the rebuild folds each entity once, from all its
    # events, and keeps nothing of it for a next batch.
    def versions(key: str, events: list[Held]) -> tuple[list[Version], None]:
        kind = kind_of_key(key)
        if key in touched:
            return history(kind, [stored(event) for event in events]), None
        # Nearly every entity: nothing retracts its events, each folded as validation typed it,
        # without an `Event` and a `Stored` made for each only to be read back. Each is held
        # once: the ledger keeps the first delivery of a (source, id) only.
        typed = [
            made(Typed, ((time, source, event_id), data)) for source, event_id, _, time, data, _ in events
        ]
        return unretracted_history(kind, typed), None

    records: list[Record] = []

    async with engine.connect() as conn:
        revisions = await _live_revisions(conn)
    chunk = _Chunk()
    # In key order, as `refold` goes: each table's primary key then grows at its end, not at
    # random places all over it.
    for key, events in sorted(held.entities.items()):
        if key not in strays:
            chunk.entity(entity_written(key, versions(key, events), (revisions.get(key, 0), None)))
        if chunk.full:
            await chunk.append(writer)
            chunk = _Chunk()
    await chunk.append(writer)
    # Each point fact's record id, person, fact, recorded time, end and revision.
    points: list[tuple[str, str, ClientFact, datetime, datetime | None, int]] = []
    point = points.append
    for key, held_points in held.clients.items():
        if key not in strays:
            for source, event_id, kind, time, (client_ref, fact), revision in held_points:
                retracted_at = None
                # Nearly every point fact: nothing retracts it, it counts from its own time on.
                if (source, event_id) in retracted:
                    # Its data was read when it was loaded: the event is wanted for when it counts.
                    event = Event(source, event_id, kind, time, _READ)
                    retracted_at = counted(event, retractions).retracted_at
                    # Marking a retraction of it counts its ledger row's revision up.
                    revision += 1
                point((record_id(source, event_id), client_ref, fact, time, retracted_at, revision))
    # Appended in record id order, the client facts' primary key: a person's record ids lie all
    # over it, and appended by person each row went to another page of its index.
    points.sort(key=_record_id)
    keep = records.append
    for first in range(0, len(points), CHUNK):
        rows = []
        for record, client_ref, fact, time, retracted_at, revision in points[first : first + CHUNK]:
            rows.append(client_fact_values(record, client_ref, fact, time, retracted_at))
            topic_key, value = client_record(record, client_ref, revision, time, retracted_at, fact)
            # A copy: orjson's bytes keep the buffer it wrote into, 4 KB for a record of 600 bytes.
            keep((record, topic_key.encode(), bytes(memoryview(value))))
        await writer.append_tuples(shadow.client_facts, CLIENT_FACT_COLUMNS, rows)
    await writer.flush()
    return records


async def refold(
    engine: AsyncEngine, writer: BulkWriter, holds: Callable[[Any], ColumnElement[bool]]
) -> None:
    """As if each stored event had been applied in turn, each entity that `holds` folded once; its
    revision continues the live one (the swap corrects those the workers move on meanwhile)."""
    ev = shadow.events
    async with engine.connect() as conn:
        revisions = await _live_revisions(conn)
        rows = await conn.stream(
            select(ev.c.entity_key, ev.c.source, ev.c.event_id, ev.c.type, ev.c.time, ev.c.wire)
            .where(ev.c.wire.is_not(None), holds(ev.c.entity_key))
            .order_by(ev.c.entity_key)
            .execution_options(yield_per=CHUNK)
        )
        chunk = _Chunk()
        key: str | None = None
        events: list[Event] = []

        def close() -> None:
            # An entity's (or person's) events and retractions are all in: what counts is known.
            assert key is not None
            stored = effective(events)
            if key_kind(key) == "client":
                for point in stored:
                    event = point.event
                    record = record_id(event.source, event.id)
                    chunk.client(record, client_point(event), event.time, point.retracted_at)
            elif stored:
                chunk.entity(entity_write(key, stored, (revisions.get(key, 0), None)))

        # By the partition: each step of an async result costs a switch of greenlets.
        async for partition in rows.partitions():
            for entity, source, event_id, kind, time, wire in partition:
                if entity != key:
                    if key is not None:
                        close()
                    if chunk.full:
                        await chunk.append(writer)
                        chunk = _Chunk()
                    key, events = entity, []
                events.append(ledger_event(source, event_id, kind, time, wire))
        if key is not None:
            close()
        await chunk.append(writer)
    await writer.flush()
