"""A short account of a simulated history: events by type, persons, benefits running at its end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from stroom_simulator.delivery import RETRACTED, Event


@dataclass(slots=True)
class HistorySummary:
    """Folds events as they stream past; redeliveries count once, retracted events not at all."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    _bsns: set[str] = field(default_factory=set)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _retracted: set[tuple[str, str]] = field(default_factory=set)
    _started: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    _ended: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    def watch(self, events: Iterable[Event]) -> Iterator[Event]:
        """Passes the events on, taking note of each."""
        for event in events:
            self.add(event)
            yield event

    def add(self, event: Event) -> None:
        self.events += 1
        key = (event["source"], event["id"])
        if key in self._seen:
            return
        self._seen.add(key)
        self.by_type[event["type"]] += 1
        data = event["data"]
        for person in (data.get("client"), *data.get("members", ()), *data.get("joined", ())):
            if person and "bsn" in person:
                self._bsns.add(person["bsn"])
        if event["type"] == RETRACTED:
            self._retracted.add((event["source"], data["retracted_id"]))
        elif event["type"] == "stroom.benefit.started.v1":
            self._started[(event["source"], data["benefit_ref"])] = (
                event["id"],
                data["municipality"],
                data["start_date"],
            )
        elif event["type"] == "stroom.benefit.ended.v1":
            ended = self._ended.setdefault((event["source"], data["benefit_ref"]), [])
            ended.append((event["id"], data["end_date"]))

    @property
    def persons(self) -> int:
        return len(self._bsns)

    @property
    def duplicates(self) -> int:
        return self.events - len(self._seen)

    def benefits_running(self, on: date) -> Counter[str]:
        """Benefits per municipality code that started on or before `on` and had not ended before it."""
        day = on.isoformat()
        running: Counter[str] = Counter()
        for (source, ref), (event_id, municipality, start_date) in self._started.items():
            if (source, event_id) in self._retracted or start_date > day:
                continue
            ends = [
                end
                for end_id, end in self._ended.get((source, ref), ())
                if (source, end_id) not in self._retracted
            ]
            if not ends or min(ends) >= day:
                running[municipality] += 1
        return running
