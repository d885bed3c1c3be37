"""The shadow ledger filled from the topic by appending, as `apply_events` would have stored it."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import orjson

from stroom_caseload.bulk import BulkWriter
from stroom_caseload.domain.events import utc
from stroom_caseload.replay import Decoded
from stroom_caseload.tables import shadow
from stroom_contract.events import EventRetractedData
from stroom_contract.keys import entity_key

# A retracted event's earliest retraction: when, and the retraction's id.
Mark = tuple[datetime, str]


class ShadowLedger:
    """The shadow ledger starts empty and only the rebuild writes it, so which (source, id) it
    holds from this ledger's partitions is known here, and new rows go in by appending, the first
    delivery kept. The earliest retraction of each event is gathered in `marks`, to be written
    once every partition's rows are in (a retraction's partition need not be its target's)."""

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        # The entity of every stored event: a retraction arriving later belongs to it.
        self._stored: dict[tuple[str, str], str] = {}
        self._keys: dict[str, str] = {}
        self.marks: dict[tuple[str, str], Mark] = {}

    async def add(self, decoded: Sequence[Decoded]) -> None:
        unique: dict[tuple[str, str], Decoded] = {}
        for envelope, wire in decoded:
            unique.setdefault((sys.intern(envelope.source), envelope.id), (envelope, wire))
        batch = sorted(unique.items())
        retraction_keys = self._mark(batch)
        rows = []
        for ident, (envelope, wire) in batch:
            if ident in self._stored:
                continue
            if isinstance(envelope.data, EventRetractedData):
                key = retraction_keys[(ident[0], envelope.data.retracted_id)]
            else:
                key = entity_key(envelope) or ""
            self._stored[ident] = self._keys.setdefault(key, key)
            rows.append(
                {
                    "source": ident[0],
                    "event_id": ident[1],
                    "entity_key": key,
                    "type": envelope.type,
                    "time": utc(envelope.time),
                    "wire": orjson.dumps(wire).decode(),
                    "revision": 1,
                }
            )
        await self.writer.append({shadow.events: rows})

    def _mark(self, batch: list[tuple[tuple[str, str], Decoded]]) -> dict[tuple[str, str], str]:
        """Note this batch's retractions; gives the entity key of each: the retracted event's, if
        it was stored before."""
        keys = {}
        for (source, event_id), (envelope, _) in batch:
            if isinstance(envelope.data, EventRetractedData):
                aimed = (source, envelope.data.retracted_id)
                mark = (utc(envelope.time), event_id)
                if aimed not in self.marks or mark[0] < self.marks[aimed][0]:
                    self.marks[aimed] = mark
                keys[aimed] = self._stored.get(aimed) or f"retraction:{aimed[0]}:{aimed[1]}"
        return keys


def merge_marks(parts: Iterable[Mapping[tuple[str, str], Mark]]) -> list[tuple[str, str, datetime, str]]:
    """The earliest retraction of each event over all partitions, in the form `mark_retracted` takes."""
    merged: dict[tuple[str, str], Mark] = {}
    for marks in parts:
        for aimed, mark in marks.items():
            if aimed not in merged or mark[0] < merged[aimed][0]:
                merged[aimed] = mark
    return [(source, event_id, at, by) for (source, event_id), (at, by) in sorted(merged.items())]
