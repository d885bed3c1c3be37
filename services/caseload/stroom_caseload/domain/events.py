"""Events as the caseload domain sees them: pseudonymised wire data with a canonical order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from stroom_contract.events import RETRACTED, Envelope, EventData
from stroom_contract.retractions import Period, Retraction, Retractions
from stroom_contract.slotted import slot_init
from stroom_contract.types import JSONObject


@slot_init
@dataclass(frozen=True, slots=True)
class Event:
    """One stored event; `data` is the validated, pseudonymised `data` object of the wire form,
    and `typed` the same as validation typed it, where that is at hand: the fold then need not
    type it again from `data` (which an event held only to be folded may leave empty)."""

    source: str
    id: str
    type: str
    time: datetime
    data: JSONObject
    typed: EventData | None = field(default=None, compare=False, repr=False)

    @property
    def order(self) -> tuple[datetime, str, str]:
        # Recorded time first; (source, id) only breaks ties, so the fold is a function of the set.
        return (self.time, self.source, self.id)

    @classmethod
    def from_wire(cls, wire: JSONObject) -> Event:
        return cls(
            _text(wire, "source"),
            _text(wire, "id"),
            _text(wire, "type"),
            utc(_text(wire, "time")),
            wire_data(wire),
        )

    def retraction(self) -> Retraction:
        retracted_id = self.data["retracted_id"]
        assert isinstance(retracted_id, str), "a stored retraction was validated"
        return Retraction(self.source, self.id, self.time, retracted_id)


@slot_init
@dataclass(frozen=True, slots=True)
class Stored:
    """An event with the stretches of recorded time it counts in (`Retractions.periods`; None
    when nothing retracts it: from its own time on), and when each retraction in its chains was
    recorded: a moment its entity's history is looked at, whether or not it changes anything."""

    event: Event
    periods: tuple[Period, ...] | None = None
    retracted: tuple[datetime, ...] = ()

    @classmethod
    def until(cls, event: Event, retracted_at: datetime | None) -> Stored:
        """Counting from its time until one retraction, recorded at `retracted_at`."""
        if retracted_at is None:
            return cls(event)
        periods = ((event.time, retracted_at),) if retracted_at > event.time else ()
        return cls(event, periods, (retracted_at,))

    def counts_at(self, moment: datetime) -> bool:
        if self.periods is None:
            return self.event.time <= moment
        return any(start <= moment and (end is None or moment < end) for start, end in self.periods)

    @property
    def counts(self) -> bool:
        """Whether it counts now, with every retraction known."""
        return self.periods is None or (bool(self.periods) and self.periods[-1][1] is None)

    @property
    def retracted_at(self) -> datetime | None:
        """When it last stopped counting, as a record with one stretch of time shows it: None while
        it counts; its own time if it never did."""
        if self.counts:
            return None
        return self.periods[-1][1] if self.periods else self.event.time


# A retracted event's earliest retraction, as its ledger row records it: when, and its id.
Mark = tuple[datetime, str]


def keep_earliest(marks: dict[tuple[str, str], Mark], target: tuple[str, str], mark: Mark) -> None:
    """Record `mark` for `target` in `marks` unless an earlier one (by time, then id) is there."""
    if target not in marks or mark < marks[target]:
        marks[target] = mark


def effective(events: Iterable[Event], retractions: Retractions | None = None) -> list[Stored]:
    """The events that are not retractions, each with the stretches it counts in under the
    retractions among `events` and those in `retractions` (which the former are added to)."""
    known = Retractions() if retractions is None else retractions
    facts = []
    for event in events:
        if event.type == RETRACTED:
            known.add(event.retraction())
        else:
            facts.append(event)
    return [counted(event, known) for event in facts]


def counted(event: Event, retractions: Retractions) -> Stored:
    """An event that is not a retraction, with the stretches it counts in under `retractions`."""
    ident = (event.source, event.id)
    if not retractions.of(ident):
        return Stored(event)
    moments = tuple(sorted(r.time for r in retractions.tree(ident)))
    return Stored(event, retractions.periods(ident, event.time), moments)


def _text(wire: JSONObject, name: str) -> str:
    value = wire[name]
    assert isinstance(value, str), f"a validated event's {name} is text"
    return value


# dict first: parsed JSON is a dict, and the ABC's check costs more. A tuple made once: `dict |
# Mapping` written in the check would build a new union for every event, costing more than the check.
_OBJECTS = (dict, Mapping)


def wire_data(wire: JSONObject) -> JSONObject:
    """The `data` object of a validated event's JSON form."""
    data = wire["data"]
    assert isinstance(data, _OBJECTS), "a validated event's data is an object"
    return data


def utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        # Storage without time zones (SQLite) keeps UTC.
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Decoded(NamedTuple):
    """An event as validated, and in the JSON form it came in: what intake published, which the
    validation leaves as it is (so the ledger need not serialise the envelope again); with the
    partition it was read from.

    The ledger writes this form out anew, not the record's value spliced in as received: a value
    may repeat a key, of which validation saw only the last (another could hold a raw BSN), and
    orjson writes an event's small `data` for less than a splice costs."""

    envelope: Envelope
    wire: JSONObject
    partition: int
