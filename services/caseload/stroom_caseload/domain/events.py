"""Events as the caseload domain sees them: pseudonymised wire data with a canonical order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

RETRACTED = "stroom.event.retracted.v1"


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event; `data` is the validated, pseudonymised `data` object of the wire form."""

    source: str
    id: str
    type: str
    time: datetime
    data: Mapping[str, Any]

    @property
    def order(self) -> tuple[datetime, str, str]:
        # Recorded time first; (source, id) only breaks ties, so the fold is a function of the set.
        return (self.time, self.source, self.id)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Event:
        return cls(
            source=wire["source"],
            id=wire["id"],
            type=wire["type"],
            time=utc(wire["time"]),
            data=wire["data"],
        )


@dataclass(frozen=True, slots=True)
class Stored:
    """An event with the recorded time of its earliest retraction, if one is known."""

    event: Event
    retracted_at: datetime | None = None


def utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        # Storage without time zones (SQLite) keeps UTC.
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
