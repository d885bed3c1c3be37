"""An independent reference for the caseload projections, straight from the raw events (BSNs and all).

Deliberately written without the production fold: plain dicts, whole-history scans.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

Raw = dict[str, Any]


COACH = "stroom.client.coach_assigned.v1"
ASSESSED = "stroom.client.assessed.v1"


def _t(event: Raw) -> datetime:
    return datetime.fromisoformat(event["time"])


def _sort_key(event: Raw) -> tuple[datetime, str, str]:
    return (_t(event), event["source"], event["id"])


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _between(start: date | None, end: date | None, on: date) -> bool:
    return start is not None and start <= on and (end is None or end > on)


def _person(client: Raw) -> str:
    return client.get("bsn") or client["client_ref"]


def known_events(raw: list[Raw], as_of: datetime | None = None) -> list[Raw]:
    """Distinct events recorded by `as_of` that count then: not retracted by a retraction recorded
    by then that counts itself. Decided by rounds: at first everything counts; each round an
    event counts iff nothing that counted in the round before retracts it, until nothing changes
    (which a history without circles of retractions reaches)."""
    unique = {(e["source"], e["id"]): e for e in raw if as_of is None or _t(e) <= as_of}
    aims = {
        key: (e["source"], e["data"]["retracted_id"])
        for key, e in unique.items()
        if e["type"] == "stroom.event.retracted.v1"
    }
    counting = set(unique)
    while True:
        now = set(unique) - {aims[key] for key in counting if key in aims}
        if now == counting:
            break
        counting = now
    return [e for key, e in unique.items() if key in counting and e["type"] != "stroom.event.retracted.v1"]


def _by_entity(events: list[Raw], kind: str) -> dict[tuple[str, str], list[Raw]]:
    grouped: dict[tuple[str, str], list[Raw]] = defaultdict(list)
    for e in events:
        if e["type"].startswith(f"stroom.{kind}."):
            grouped[(e["source"], e["data"][f"{kind}_ref"])].append(e)
    for group in grouped.values():
        group.sort(key=_sort_key)
    return grouped


def _last(group: list[Raw], suffix: str) -> Raw | None:
    matching = [e for e in group if e["type"].endswith(suffix)]
    return matching[-1]["data"] if matching else None


def benefits(events: list[Raw]) -> list[dict[str, Any]]:
    result = []
    for group in _by_entity(events, "benefit").values():
        started = _last(group, ".started.v1")
        if started is None:
            continue
        ended = _last(group, ".ended.v1") or {}
        begin = date.fromisoformat(started["start_date"])
        spells: list[list[Any]] = [[_person(m), begin, None] for m in started["members"]]
        changes = [e["data"] for e in group if e["type"].endswith(".members_changed.v1")]
        for change in sorted(changes, key=lambda c: c["effective_date"]):
            when = date.fromisoformat(change["effective_date"])
            for c in change.get("left", []):
                for spell in spells:
                    if spell[0] == _person(c) and spell[2] is None:
                        spell[2] = when
            for m in change.get("joined", []):
                if all(not (s[0] == _person(m) and s[2] is None) for s in spells):
                    spells.append([_person(m), when, None])
        result.append(
            {
                "municipality": started["municipality"],
                "regulation": started["regulation"],
                "start": begin,
                "end": _d(ended.get("end_date")),
                "spells": spells,
            }
        )
    return result


class Reference:
    """Every entity's final attributes, computed once; projections on any day from them."""

    def __init__(self, raw: list[Raw], as_of: datetime | None = None) -> None:
        events = known_events(raw, as_of)
        self.benefits = benefits(events)
        self.placements = []
        for group in _by_entity(events, "placement").values():
            started = _last(group, ".started.v1")
            ended = _last(group, ".ended.v1") or {}
            if started:
                span = (_d(started["start_date"]), _d(ended.get("end_date")))
                self.placements.append((started["municipality"], started["kind"], *span))
        self.applications = []
        for group in _by_entity(events, "application").values():
            received = _last(group, ".received.v1")
            decided = _last(group, ".decided.v1") or {}
            if received:
                span = (_d(received["received_on"]), _d(decided.get("decided_on")))
                self.applications.append((received["municipality"], received["regulation"], *span))
        self.trajectories = []
        for group in _by_entity(events, "trajectory").values():
            changes = [e["data"] for e in group if e["type"].endswith(".phase_changed.v1")]
            if changes:
                ended = _last(group, ".ended.v1") or {}
                phase_on = {date.fromisoformat(c["effective_date"]): c["phase"] for c in changes}
                self.trajectories.append((changes[-1]["municipality"], phase_on, _d(ended.get("end_date"))))
        self.client_events: dict[str, list[Raw]] = defaultdict(list)
        for e in events:
            if e["type"] in (COACH, ASSESSED):
                self.client_events[_person(e["data"]["client"])].append(e)

    def projection(self, municipality: str, on: date) -> dict[str, Any]:
        counts: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        persons: dict[str, set[str]] = defaultdict(set)
        active_people: set[str] = set()
        for b in self.benefits:
            if b["municipality"] != municipality or not _between(b["start"], b["end"], on):
                continue
            counts["benefits"][b["regulation"]] += 1
            for person, joined, left in b["spells"]:
                if _between(joined, left, on):
                    persons[b["regulation"]].add(person)
                    active_people.add(person)
        for regulation, people in persons.items():
            counts["persons"][regulation] = len(people)
        for where, kind, start, end in self.placements:
            if where == municipality and _between(start, end, on):
                counts["placements"][kind] += 1
        for where, regulation, received, decided in self.applications:
            if where == municipality and _between(received, decided, on):
                counts["open_applications"][regulation] += 1
        for where, phase_on, end in self.trajectories:
            past = [d for d in phase_on if d <= on]
            if where == municipality and past and (end is None or end > on):
                counts["trajectories"][phase_on[max(past)]] += 1
        per_coach: dict[Any, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        for person in active_people:
            mine = self.client_events.get(person, [])
            coach = _latest(mine, COACH, "assigned_on", on).get("coach_ref")
            stream = _latest(mine, ASSESSED, "assessed_on", on).get("client_stream")
            per_coach[coach][stream] += 1
        result: dict[str, Any] = {k: dict(v) for k, v in counts.items()}
        result["coaches"] = {coach: dict(streams) for coach, streams in per_coach.items()}
        return result


def projection(raw: list[Raw], municipality: str, on: date, as_of: datetime | None = None) -> dict[str, Any]:
    return Reference(raw, as_of).projection(municipality, on)


def _latest(events: list[Raw], event_type: str, field: str, on: date) -> Raw:
    """The data of the newest event of a type effective on or before `on`; {} when none."""
    best: tuple[Any, Raw] | None = None
    for e in events:
        if e["type"] != event_type or date.fromisoformat(e["data"][field]) > on:
            continue
        rank = (e["data"][field], _t(e), f"{e['source']}|{e['id']}")
        if best is None or rank > best[0]:
            best = (rank, e["data"])
    return best[1] if best else {}
