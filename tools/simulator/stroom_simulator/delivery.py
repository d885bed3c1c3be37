"""Puts simulated events in delivery order, adding the noise of real case systems when asked."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

import orjson

from stroom_simulator.clock import DAY, Rfc3339

Event = dict[str, Any]
_END_OF_TIME = 2**62

RETRACTED = "stroom.event.retracted.v1"
_RETRACTION_REASONS = (
    "Ten onrechte geregistreerd",
    "Registratie in verkeerd dossier",
    "Dubbel ingevoerd met andere gegevens",
    "Correctie na bezwaar",
)


@dataclass(frozen=True, slots=True)
class NoiseRates:
    """How often each kind of noise happens, per event (or per entity where it says so)."""

    duplicate: float = 0.03
    late: float = 0.02
    # A started delivered after its ended (or a members_changed after it), per started event.
    reorder: float = 0.05
    # Per benefit: an erroneous event that the source retracts later.
    erroneous: float = 0.03
    # Share of retractions delivered before the event they retract.
    retraction_first: float = 0.2


class Delivery:
    """A priority queue on delivery moment; a flush hands out everything due before a moment.

    Ids of true events count up per source in the order the simulation makes them, and noise draws
    from its own random stream, so a history with noise holds exactly the events of the same
    history without it, plus duplicates, erroneous events and their retractions.
    """

    def __init__(self, noise: Random | None, rates: NoiseRates, tag: str = "") -> None:
        self.noise = noise
        self._tag = f"{tag}-" if tag else ""
        self.rates = rates
        self._heap: list[tuple[int, int, Event, bool]] = []
        self._sequence = 0
        self._counters: dict[str, int] = {}
        self._prefixes: dict[str, str] = {}
        self._rfc3339 = Rfc3339()

    def emit(
        self, source: str, type_: str, at: int, data: dict[str, Any], reorder_after: int | None = None
    ) -> str:
        """A true event recorded at `at`; `reorder_after` is when a later event about it is recorded."""
        event_id = self._next_id(source, "")
        event = self._event(event_id, source, type_, at, data)
        noise = self.noise
        if noise is None:
            self._push(at, event, duplicate=False)
            return event_id
        roll = noise.random()
        if roll < self.rates.late:
            deliver = at + noise.randint(30, 200) * DAY
        elif reorder_after is not None and roll < self.rates.late + self.rates.reorder:
            deliver = max(at, reorder_after) + noise.randint(600, 30 * DAY)
        else:
            deliver = at
        self._push_with_duplicates(deliver, event, noise)
        return event_id

    def erroneous(self, source: str, type_: str, at: int, data: dict[str, Any]) -> None:
        """A wrong event that the source retracts; sometimes the retraction arrives first."""
        noise = self.noise
        assert noise is not None  # only noisy histories hold erroneous events
        event = self._event(self._next_id(source, "C"), source, type_, at, data)
        if noise.random() < self.rates.retraction_first:
            deliver = at + noise.randint(30, 120) * DAY
            retract_day = at // DAY + noise.randint(1, 20)
        else:
            deliver = at
            # Often after the month closed: reports must be corrected afterwards.
            retract_day = at // DAY + noise.randint(1, 120)
        self._push_with_duplicates(deliver, event, noise)
        retract_at = retract_day * DAY + noise.randint(8 * 3600, 17 * 3600)
        reason = _RETRACTION_REASONS[noise.randrange(len(_RETRACTION_REASONS))]
        retraction = self._event(
            self._next_id(source, "C"),
            source,
            RETRACTED,
            retract_at,
            {"retracted_id": event["id"], "reason": reason},
        )
        self._push_with_duplicates(retract_at, retraction, noise)

    def flush(self, before: int) -> Iterator[Event]:
        """Every event due before `before`, in delivery order; nothing made later can be due earlier."""
        heap = self._heap
        while heap and heap[0][0] < before:
            _, _, event, duplicate = heapq.heappop(heap)
            # A redelivery is an equal but separate object, as it would be off the wire.
            yield orjson.loads(orjson.dumps(event)) if duplicate else event

    def drain(self) -> Iterator[Event]:
        yield from self.flush(_END_OF_TIME)

    def _push_with_duplicates(self, deliver: int, event: Event, noise: Random) -> None:
        self._push(deliver, event, duplicate=False)
        if noise.random() < self.rates.duplicate:
            self._push(deliver + noise.randint(600, 60 * DAY), event, duplicate=True)

    def _push(self, deliver: int, event: Event, duplicate: bool) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (deliver, self._sequence, event, duplicate))

    def _next_id(self, source: str, kind: str) -> str:
        key = kind + source
        count = self._counters[key] = self._counters.get(key, 0) + 1
        prefix = self._prefixes.get(source)
        if prefix is None:
            prefix = self._prefixes[source] = source.rsplit(":", 1)[-1]
        return f"{prefix}-{self._tag}{kind}{count:07d}"

    def _event(self, event_id: str, source: str, type_: str, at: int, data: dict[str, Any]) -> Event:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": type_,
            "time": self._rfc3339(at),
            "data": data,
        }
