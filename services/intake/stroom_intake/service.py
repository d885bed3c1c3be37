"""Ingesting events: validate and pseudonymise, then store the new ones in one transaction.

The HTTP API and `stroom import` both call `Ingestor.ingest`: one validation path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_contract.events import EVENT_TYPES, Envelope
from stroom_contract.keys import entity_key
from stroom_contract.retractions import chain_keys
from stroom_contract.validation import EventValidator, FieldError, InvalidEvent
from stroom_intake import queries, repository
from stroom_intake.domain.outcome import Conflict, IngestReport, Refusal, fingerprint
from stroom_intake.domain.reading import Position, RawEvent, Unreadable
from stroom_intake.domain.sequences import numeric_sequence
from stroom_intake.tables import EventKey
from stroom_platform.auth import Principal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Candidate:
    position: Position
    event: Envelope
    key: EventKey
    wire: str
    fingerprint: str


def writer_errors(event: Envelope, writer: Principal) -> list[FieldError]:
    """Why `writer` may not hold this event: another system's source, another organisation's
    municipality. Its (source, id) is not even looked up, so nobody can take another's id first."""
    errors = []
    if not writer.may_write_as(event.source):
        errors.append(FieldError("source", "deze bron hoort niet bij de inloggegevens van de aanleveraar"))
    municipality = getattr(event.data, "municipality", None)
    if municipality is not None and not writer.may_write_for(municipality):
        errors.append(
            FieldError(
                "data.municipality",
                f"gemeente {municipality} hoort niet bij organisatie {writer.organisation}"
                " van de aanleveraar",
            )
        )
    return errors


def _type_label(raw: Any) -> str | None:
    value = raw.get("type") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value in EVENT_TYPES else None


class Ingestor:
    """Validates a batch and stores what is new; `on_stored` runs after each commit."""

    def __init__(
        self,
        engine: AsyncEngine,
        validator: EventValidator,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._validator = validator
        self._on_stored = on_stored

    def _prepare(
        self, items: Sequence[RawEvent | Unreadable], report: IngestReport, writer: Principal | None
    ) -> tuple[dict[EventKey, _Candidate], list[_Candidate]]:
        candidates: dict[EventKey, _Candidate] = {}
        repeats: list[_Candidate] = []
        for item in items:
            if isinstance(item, Unreadable):
                report.refusals.append(
                    Refusal(item.position, item.event_id, item.source, None, (item.error,))
                )
                continue
            try:
                event = self._validator.validate(item.raw)
            except InvalidEvent as exc:
                refusal = Refusal(
                    item.position, exc.event_id, exc.source, _type_label(item.raw), tuple(exc.errors)
                )
                report.refusals.append(refusal)
                continue
            denied = writer_errors(event, writer) if writer is not None else None
            if denied:
                report.refusals.append(
                    Refusal(item.position, event.id, event.source, event.type, tuple(denied))
                )
                continue
            # Sorted keys make the stored form canonical, so equal content has an equal fingerprint.
            wire = orjson.dumps(event.to_wire(), option=orjson.OPT_SORT_KEYS)
            key = (event.source, event.id)
            candidate = _Candidate(item.position, event, key, wire.decode(), fingerprint(wire))
            if candidate.key in candidates:
                repeats.append(candidate)
            else:
                candidates[candidate.key] = candidate
        return candidates, repeats

    async def ingest(
        self, items: Sequence[RawEvent | Unreadable], writer: Principal | None = None
    ) -> IngestReport:
        """`writer`: the authenticated case system, held to its sources and organisation; None
        for `stroom import`, which reads files the operator chose."""
        report = IngestReport()
        candidates, repeats = self._prepare(items, report, writer)
        if not candidates:
            return report
        keys = _entity_keys(candidates)
        retracted = {
            key: c.event.data.retracted_id  # type: ignore[attr-defined]
            for key, c in candidates.items()
            if key not in keys
        }
        received_at = datetime.now(UTC)
        async with self._engine.begin() as conn:
            targets = [(source, target) for (source, _), target in retracted.items()]
            known = await queries.entity_keys(conn, targets) if targets else {}
            # A retraction's key is that of the event its chain ends at: the same partition.
            keys |= chain_keys(retracted, known | keys)
            rows = [_row(c, keys[key]) for key, c in candidates.items()]
            inserted = await repository.insert_new(conn, rows, received_at)
            if inserted:
                await repository.announce_stored(conn)
                numbered = _numbered(candidates, inserted)
                if numbered:
                    await repository.record_sequences(conn, numbered)
            others = [key for key in candidates if key not in inserted]
            stored = await queries.fingerprints(conn, others) if others else {}
        for key, candidate in candidates.items():
            if key in inserted:
                report.accepted[candidate.event.type] += 1
            else:
                _redelivered(candidate, stored.get(key), report)
        for candidate in repeats:
            first = candidates[candidate.key]
            _redelivered(
                candidate, first.fingerprint if first.key in inserted else stored.get(first.key), report
            )
        if inserted and self._on_stored is not None:
            self._on_stored()
        return report


def _numbered(candidates: dict[EventKey, _Candidate], inserted: set[EventKey]) -> list[tuple[str, int]]:
    numbered = []
    for key in inserted:
        number = numeric_sequence(candidates[key].event.sequence)
        if number is not None:
            numbered.append((key[0], number))
    return numbered


def _entity_keys(candidates: dict[EventKey, _Candidate]) -> dict[EventKey, str]:
    """Keys of the non-retractions."""
    keys: dict[EventKey, str] = {}
    for key, candidate in candidates.items():
        entity = entity_key(candidate.event)
        if entity is not None:
            keys[key] = entity
    return keys


def _row(candidate: _Candidate, key: str) -> repository.NewEvent:
    event = candidate.event
    return (event.source, event.id, event.type, event.time, key, candidate.fingerprint, candidate.wire)


def _redelivered(candidate: _Candidate, stored_fingerprint: str | None, report: IngestReport) -> None:
    if stored_fingerprint == candidate.fingerprint:
        report.duplicates[candidate.event.type] += 1
        return
    source, event_id = candidate.key
    report.conflicts.append(Conflict(candidate.position, event_id, source))
    # Source and id only: the content may identify a person.
    log.warning(
        "event botst met een eerder event van dezelfde bron en id; het eerste blijft staan",
        extra={"source": source, "event_id": event_id},
    )
