"""The shadow ledger filled from the topic by appending, as `apply_events` would have stored it."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES, point_of
from stroom_caseload.domain.events import Decoded, Mark, keep_earliest
from stroom_caseload.domain.plan import batch_keys
from stroom_caseload.rebuild.bulk import BulkWriter
from stroom_caseload.tables import shadow
from stroom_contract.events import EventData, EventRetractedData
from stroom_contract.facts import ClientFact
from stroom_contract.keys import entity_key
from stroom_contract.retractions import Ident, Retraction

# What folding needs of a stored event: source, id, type, recorded time, `data` as validation
# typed it (not parsed and typed again to be folded), and the revision its ledger row starts with.
Held = tuple[str, str, str, datetime, EventData, int]
# A person's point fact the same way, but for its person and fact (`point_of`) in place of its
# `data`: read from the validated event at once, not parsed and typed again to be folded.
HeldPoint = tuple[str, str, str, datetime, tuple[str, ClientFact], int]


@dataclass
class HeldEvents:
    """The events a ledger stored, kept to be folded without reading them back: per entity, and
    a person's point facts (folded one by one) per person."""

    entities: dict[str, list[Held]] = field(default_factory=lambda: defaultdict(list))
    clients: dict[str, list[HeldPoint]] = field(default_factory=lambda: defaultdict(list))
    # The entity (person, or retraction chain) of every event stored: a retraction arriving later
    # belongs to it, and the fold finds the few entities some retraction touches from it.
    keys: dict[Ident, str] = field(default_factory=dict)

    def touched(self, retracted: Iterable[Ident]) -> set[str]:
        """The entities and persons with an event among `retracted` (or a retraction's chain
        ending in them): the rest fold without asking of each of their events."""
        keys = self.keys
        return {keys[ident] for ident in retracted if ident in keys}


class ShadowLedger:
    """The shadow ledger starts empty and only the rebuild writes it, so which (source, id) it
    holds from this ledger's partitions is known here, and new rows go in by appending, the first
    delivery kept. The earliest retraction of each event is gathered in `marks`, to be written
    once every partition's rows are in (a retraction's partition need not be its target's), and
    every retraction in `retractions`.

    An entity (or person) seen in more than one partition is a stray: other ledgers, loading
    other partitions, may hold some of its events too, so only the complete ledger in the
    database can fold it. So can one seen by more than one ledger: see `strays`."""

    def __init__(self, writer: BulkWriter, client_revisions: Mapping[tuple[str, str], int]) -> None:
        self.writer = writer
        # A person's point fact is published with its ledger row's revision: rebuilt, it starts
        # above the live one, so that facts consumers take the republished record.
        self._client_revisions = client_revisions
        # The partition each entity was first seen in, and one string for each entity key.
        self._seen: dict[str, int] = {}
        self.marks: dict[tuple[str, str], Mark] = {}
        # Every retraction loaded: whether an event counts is decided over all of them.
        self.retractions: list[Retraction] = []
        self.held = HeldEvents()
        self.strays: set[str] = set()

    async def add(self, decoded: Sequence[Decoded]) -> None:
        """Plans the batch as `apply_events` does, with what this ledger has stored for the store's
        answers: its rows are new but for those stored already."""
        stored = self.held.keys
        # The first delivery of each (source, id) not stored yet, as (source, id, ident, the
        # envelope's fields, the delivery, its entity's key: None for a retraction, whose chain
        # decides): a later one is a duplicate or a conflict, and either way has no effect
        # (`plan_ledger`).
        first: dict[Ident, _Entry] = {}
        retracted: dict[Ident, str] = {}
        intern = sys.intern
        for given in decoded:
            envelope = given.envelope
            # The attributes read from the model's own dict: a pydantic model's are looked up past
            # its `__getattr__` hook, twice the cost of a dict's item, for every event.
            fields = envelope.__dict__
            # The source interned: `stored` keeps every event loaded, under one string per source,
            # and finds a batch's idents by identity, not comparing the source's characters.
            source, event_id = intern(fields["source"]), fields["id"]
            ident = (source, event_id)
            if ident in stored or ident in first:
                continue
            data = fields["data"]
            # The exact class, as validation makes it: the contract's data models have no subclasses.
            if type(data) is EventRetractedData:
                retracted[ident] = data.retracted_id
                first[ident] = (source, event_id, ident, fields, given, None)
            else:
                first[ident] = (source, event_id, ident, fields, given, entity_key(envelope) or "")
        # (source, id) order in two stable sorts on one string each: a list sorted by string keys
        # compares them in C, where sorting the tuples calls a comparison per element.
        entries = sorted(first.values(), key=_event_id)
        entries.sort(key=_source)
        chained: dict[Ident, str] = {}
        if retracted:
            # A retraction's chain may end in another partition, known only once every one is in:
            # see `CaseloadRepository.resolve_retraction_keys`.
            keys = {entry[2]: entry[5] for entry in entries if entry[5] is not None}
            aimed = {entry[2]: retracted[entry[2]] for entry in entries if entry[5] is None}
            chained = batch_keys(keys, aimed, stored)
        rows: list[tuple[str, str, str, str, datetime, str, int]] = []
        seen, entities, clients, strays = self._seen, self.held.entities, self.held.clients, self.strays
        revisions, retractions, marks = self._client_revisions, self.retractions, self.marks
        dumps, append = orjson.dumps, rows.append
        # In (source, id) order, as `plan_ledger` orders a batch: two ledgers appending the same
        # redelivered rows then wait for each other in one order, never in a circle (in any other
        # order two COPYs can deadlock).
        for source, event_id, ident, fields, (_, wire, partition), key in entries:
            # Validation gives an aware time, so converting it is all `utc` would do.
            kind, time = fields["type"], fields["time"].astimezone(UTC)
            revision = 1
            if key is None:
                key, target = chained[ident], retracted[ident]
                keep_earliest(marks, (source, target), (time, event_id))
                retractions.append(Retraction(source, event_id, time, target))
            else:
                if seen.setdefault(key, partition) != partition:
                    strays.add(key)
                if kind in CLIENT_EVENT_TYPES:
                    revision = revisions.get(ident, 0) + 1
                    point = point_of(kind, fields["data"])
                    clients[key].append((source, event_id, kind, time, point, revision))
                else:
                    entities[key].append((source, event_id, kind, time, fields["data"], revision))
            stored[ident] = key
            append((source, event_id, key, kind, time, dumps(wire).decode(), revision))
        await self.writer.append_tuples(shadow.events, _COLUMNS, rows)

    @property
    def keys(self) -> set[str]:
        """Every entity and person this ledger holds events of."""
        return set(self._seen)


def strays(ledgers: Sequence[tuple[set[str], set[str]]]) -> set[str]:
    """Over ledgers of distinct partitions, given each one's (`keys`, `strays`): the keys that
    strayed within one, or that more than one holds."""
    found: set[str] = set()
    everywhere: set[str] = set()
    for keys, local in ledgers:
        found |= local | (keys & everywhere)
        everywhere |= keys
    return found


# A batch's first delivery of an event: see `ShadowLedger.add`.
_Entry = tuple[str, str, Ident, dict[str, Any], Decoded, str | None]
_source = itemgetter(0)
_event_id = itemgetter(1)
_COLUMNS = ("source", "event_id", "entity_key", "type", "time", "wire", "revision")


def merge_marks(parts: Iterable[Mapping[tuple[str, str], Mark]]) -> list[tuple[str, str, datetime, str]]:
    """The earliest retraction of each event over all partitions, in the form `mark_retracted` takes."""
    merged: dict[tuple[str, str], Mark] = {}
    for marks in parts:
        for aimed, mark in marks.items():
            keep_earliest(merged, aimed, mark)
    return [(source, event_id, at, by) for (source, event_id), (at, by) in sorted(merged.items())]
