"""The shadow ledger filled from the topic by appending, as `apply_events` would have stored it."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

import orjson

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.domain.events import Decoded, Mark, keep_earliest, utc
from stroom_caseload.rebuild.bulk import BulkWriter
from stroom_caseload.tables import shadow
from stroom_contract.events import EventRetractedData
from stroom_contract.keys import entity_key
from stroom_contract.retractions import Retraction, retraction_key

# What folding needs of a stored event: source, id, type, recorded time, `data` as JSON, and
# the revision its ledger row starts with.
Held = tuple[str, str, str, datetime, bytes, int]


@dataclass
class HeldEvents:
    """The events a ledger stored, kept to be folded without reading them back: per entity, and
    a person's point facts (folded one by one) per person."""

    entities: dict[str, list[Held]] = field(default_factory=lambda: defaultdict(list))
    clients: dict[str, list[Held]] = field(default_factory=lambda: defaultdict(list))


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
        # The entity of every stored event: a retraction arriving later belongs to it.
        self._stored: dict[tuple[str, str], str] = {}
        # The partition each entity was first seen in, and one string for each entity key.
        self._seen: dict[str, int] = {}
        self.marks: dict[tuple[str, str], Mark] = {}
        # Every retraction loaded: whether an event counts is decided over all of them.
        self.retractions: list[Retraction] = []
        self.held = HeldEvents()
        self.strays: set[str] = set()

    async def add(self, decoded: Sequence[Decoded]) -> None:
        rows = []
        stored, seen, marks = self._stored, self._seen, self.marks
        entities, clients = self.held.entities, self.held.clients
        for envelope, wire, partition, value in decoded:
            ident = (sys.intern(envelope.source), envelope.id)
            if ident in stored:
                continue
            time = utc(envelope.time)
            data = envelope.data
            revision = 1
            if isinstance(data, EventRetractedData):
                aimed = (ident[0], data.retracted_id)
                keep_earliest(marks, aimed, (time, ident[1]))
                self.retractions.append(Retraction(ident[0], ident[1], time, data.retracted_id))
                # Where its chain ends may only be known once every partition is in: see
                # `CaseloadRepository.resolve_retraction_keys`.
                key = stored.get(aimed) or retraction_key(*aimed)
            else:
                key = entity_key(envelope) or ""
                first = seen.setdefault(key, partition)
                if first != partition:
                    self.strays.add(key)
                if envelope.type in CLIENT_EVENT_TYPES:
                    revision = self._client_revisions.get(ident, 0) + 1
                    clients[key].append((ident[0], ident[1], envelope.type, time, value, revision))
                else:
                    entities[key].append((ident[0], ident[1], envelope.type, time, value, revision))
            stored[ident] = key
            rows.append((ident[0], ident[1], key, envelope.type, time, orjson.dumps(wire).decode(), revision))
        # In key order: two ledgers appending the same redelivered rows then wait for each other
        # in one order, never in a circle (unsorted, their COPYs deadlocked).
        rows.sort(key=itemgetter(0, 1))
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


_COLUMNS = ("source", "event_id", "entity_key", "type", "time", "wire", "revision")


def merge_marks(parts: Iterable[Mapping[tuple[str, str], Mark]]) -> list[tuple[str, str, datetime, str]]:
    """The earliest retraction of each event over all partitions, in the form `mark_retracted` takes."""
    merged: dict[tuple[str, str], Mark] = {}
    for marks in parts:
        for aimed, mark in marks.items():
            keep_earliest(merged, aimed, mark)
    return [(source, event_id, at, by) for (source, event_id), (at, by) in sorted(merged.items())]
