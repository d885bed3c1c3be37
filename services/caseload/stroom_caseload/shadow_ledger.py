"""The shadow ledger filled from the topic by appending, as `apply_events` would have stored it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, update

from stroom_caseload.bulk import BulkWriter
from stroom_caseload.domain.events import utc
from stroom_caseload.tables import shadow
from stroom_contract.events import Envelope, EventRetractedData
from stroom_contract.keys import entity_key


@dataclass(slots=True)
class _Mark:
    """A retracted event's earliest retraction, and in how many batches it was retracted."""

    at: datetime
    by: str
    batches: int


class ShadowLedger:
    """The shadow ledger starts empty and only this rebuild writes it, so which (source, id) it
    holds is known here, and new rows go in by appending. Batch by batch the rows end up as
    `apply_events` would leave them (first delivery kept, the earliest retraction
    and the revision counting each batch that marked a row); retraction marks are written last."""

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        # The entity of every stored event: a retraction arriving later belongs to it.
        self._stored: dict[tuple[str, str], str] = {}
        self._keys: dict[str, str] = {}
        self._marks: dict[tuple[str, str], _Mark] = {}

    async def add(self, envelopes: Sequence[Envelope]) -> None:
        unique: dict[tuple[str, str], Envelope] = {}
        for envelope in envelopes:
            unique.setdefault((sys.intern(envelope.source), envelope.id), envelope)
        batch = sorted(unique.items())
        retraction_keys = self._mark(batch)
        rows = []
        for ident, envelope in batch:
            if ident in self._stored:
                continue
            wire = envelope.to_wire()
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
                    "time": utc(wire["time"]),
                    "wire": orjson.dumps(wire).decode(),
                    "revision": 1,
                }
            )
        await self.writer.append({shadow.events: rows})

    def _mark(self, batch: list[tuple[tuple[str, str], Envelope]]) -> dict[tuple[str, str], str]:
        """Mark this batch's retracted events, before its rows are stored; gives the entity key
        of the retractions: the retracted event's, if it was stored before."""
        earliest: dict[tuple[str, str], tuple[datetime, str]] = {}
        for (source, event_id), envelope in batch:
            if isinstance(envelope.data, EventRetractedData):
                aimed = (source, envelope.data.retracted_id)
                at = utc(envelope.time)
                if aimed not in earliest or at < earliest[aimed][0]:
                    earliest[aimed] = (at, event_id)
        keys = {}
        for aimed, (at, by) in earliest.items():
            mark = self._marks.get(aimed)
            if mark is None:
                self._marks[aimed] = _Mark(at, by, 1)
            else:
                mark.at = min(mark.at, at)
                mark.batches += 1
            keys[aimed] = self._stored.get(aimed) or f"retraction:{aimed[0]}:{aimed[1]}"
        return keys

    async def finish(self) -> None:
        """Write the retraction marks: onto the retracted rows, or as placeholders for events
        that never came (a placeholder counts its batches; a stored row one more, for itself)."""
        marked: list[dict[str, Any]] = []
        placeholders: list[dict[str, Any]] = []
        for (source, event_id), mark in sorted(self._marks.items()):
            stored = (source, event_id) in self._stored
            row = {
                "b_source": source,
                "b_event_id": event_id,
                "b_retracted_at": mark.at,
                "b_retracted_by": mark.by,
                "b_revision": mark.batches + stored,
            }
            (marked if stored else placeholders).append(row)
        await self.writer.append({shadow.events: [_unprefixed(row) for row in placeholders]})
        ev = shadow.events
        await self.writer.execute(
            update(ev)
            .where(ev.c.source == bindparam("b_source"), ev.c.event_id == bindparam("b_event_id"))
            .values({name: bindparam(f"b_{name}") for name in ("retracted_at", "retracted_by", "revision")}),
            marked,
        )


def _unprefixed(row: dict[str, Any]) -> dict[str, Any]:
    # Bound parameters of an UPDATE may not carry the names of the columns it sets.
    return {name.removeprefix("b_"): value for name, value in row.items()}
