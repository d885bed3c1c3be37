"""An independent reference for the caseload projections, straight from the raw events (BSNs and all).

Deliberately written without the production fold: plain dicts, whole-history scans.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

Raw = dict[str, Any]


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
    """Distinct events recorded by `as_of` that no retraction recorded by then removes."""
    unique = {(e["source"], e["id"]): e for e in raw if as_of is None or _t(e) <= as_of}
    gone = {
        (e["source"], e["data"]["retracted_id"])
        for e in unique.values()
        if e["type"] == "stroom.event.retracted.v1"
    }
    return [e for key, e in unique.items() if key not in gone and e["type"] != "stroom.event.retracted.v1"]


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


def projection(raw: list[Raw], municipality: str, on: date, as_of: datetime | None = None) -> dict[str, Any]:
    events = known_events(raw, as_of)
    counts: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    persons: dict[str, set[str]] = defaultdict(set)
    active_people: set[str] = set()
    for b in benefits(events):
        if b["municipality"] != municipality or not _between(b["start"], b["end"], on):
            continue
        counts["benefits"][b["regulation"]] += 1
        for person, joined, left in b["spells"]:
            if _between(joined, left, on):
                persons[b["regulation"]].add(person)
                active_people.add(person)
    for regulation, people in persons.items():
        counts["persons"][regulation] = len(people)
    for group in _by_entity(events, "placement").values():
        started = _last(group, ".started.v1")
        ended = _last(group, ".ended.v1") or {}
        if (
            started
            and started["municipality"] == municipality
            and _between(_d(started["start_date"]), _d(ended.get("end_date")), on)
        ):
            counts["placements"][started["kind"]] += 1
    for group in _by_entity(events, "application").values():
        received = _last(group, ".received.v1")
        decided = _last(group, ".decided.v1") or {}
        if (
            received
            and received["municipality"] == municipality
            and _between(_d(received["received_on"]), _d(decided.get("decided_on")), on)
        ):
            counts["open_applications"][received["regulation"]] += 1
    for group in _by_entity(events, "trajectory").values():
        changes = [e["data"] for e in group if e["type"].endswith(".phase_changed.v1")]
        if not changes or changes[-1]["municipality"] != municipality:
            continue
        ended = _last(group, ".ended.v1") or {}
        phase_on = {date.fromisoformat(c["effective_date"]): c["phase"] for c in changes}
        past = [d for d in phase_on if d <= on]
        end = _d(ended.get("end_date"))
        if past and (end is None or end > on):
            counts["trajectories"][phase_on[max(past)]] += 1
    coach = _latest(events, "stroom.client.coach_assigned.v1", "assigned_on", on)
    stream = _latest(events, "stroom.client.assessed.v1", "assessed_on", on)
    for person in active_people:
        c = coach.get(person, {}).get("coach_ref")
        s = stream.get(person, {}).get("client_stream")
        counts.setdefault("coaches", defaultdict(int))
        counts["coaches"][(c, s)] += 1
    result: dict[str, Any] = {k: dict(v) for k, v in counts.items() if k != "coaches"}
    per_coach: dict[Any, dict[Any, int]] = defaultdict(dict)
    for (c, s), n in counts.get("coaches", {}).items():
        per_coach[c][s] = n
    result["coaches"] = dict(per_coach)
    return result


def _latest(events: list[Raw], event_type: str, field: str, on: date) -> dict[str, Raw]:
    best: dict[str, tuple[Any, Raw]] = {}
    for e in events:
        if e["type"] != event_type or date.fromisoformat(e["data"][field]) > on:
            continue
        rank = (e["data"][field], _t(e), f"{e['source']}|{e['id']}")
        person = _person(e["data"]["client"])
        if person not in best or rank > best[person][0]:
            best[person] = (rank, e["data"])
    return {person: data for person, (_, data) in best.items()}
