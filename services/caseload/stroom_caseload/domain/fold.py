"""Folds an entity's events, in canonical order, into its state and its history over recorded time.

The accumulators keep the state's parts as they fold (a benefit's member spells, a trajectory's
phases), so materialising the state at a recorded moment is not a replay of the entity's events.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from stroom_caseload.domain.events import Event, Stored
from stroom_caseload.domain.states import (
    ApplicationState,
    BenefitState,
    EntityState,
    MemberSpell,
    PhaseSpell,
    PlacementState,
    TrajectoryState,
    Version,
)
from stroom_contract.keys import kind_of as kind_of
from stroom_contract.keys import kind_of_key as kind_of_key

Data = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pair:
    """What placements and applications accumulate: the latest opening and closing event."""

    opened: Data | None = None
    closed: Data | None = None


@dataclass(frozen=True, slots=True)
class BenefitAcc:
    """`changes` in effective-date order (canonical order within a date); once started, `spells`
    are the members after applying them in that order, and `open` the open spells per person."""

    started: Data | None = None
    ended: Data | None = None
    changes: tuple[Data, ...] = ()
    spells: tuple[MemberSpell, ...] = ()
    open: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrajectoryAcc:
    """`phases` by date, one per date; `latest` is the last phase event folded."""

    phases: tuple[PhaseSpell, ...] = ()
    latest: Data | None = None
    ended: Data | None = None


Acc = Pair | BenefitAcc | TrajectoryAcc


def _opened(acc: Any, data: Data) -> Any:
    return replace(acc, opened=data)


def _closed(acc: Any, data: Data) -> Any:
    return replace(acc, closed=data)


def _ended(acc: Any, data: Data) -> Any:
    return replace(acc, ended=data)


def _started(acc: BenefitAcc, data: Data) -> BenefitAcc:
    # A later `started` is a correction: it replaces the earlier one as a whole.
    return _with_members(replace(acc, started=data), acc.changes, replay=True)


def _effective(change: Data) -> str:
    return str(change["effective_date"])


def _members_changed(acc: BenefitAcc, data: Data) -> BenefitAcc:
    at = bisect_right(acc.changes, _effective(data), key=_effective)
    changes = (*acc.changes[:at], data, *acc.changes[at:])
    # Only a change dated before one already applied alters what follows it.
    return _with_members(acc, changes, replay=at < len(acc.changes))


def _with_members(acc: BenefitAcc, changes: tuple[Data, ...], replay: bool) -> BenefitAcc:
    started = acc.started
    if started is None:
        return replace(acc, changes=changes)
    open_: dict[str, tuple[int, ...]]
    if replay:
        start = date.fromisoformat(started["start_date"])
        spells = [
            MemberSpell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), start)
            for m in started["members"]
        ]
        open_ = {}
        for i, spell in enumerate(spells):
            open_[spell.client_ref] = (*open_.get(spell.client_ref, ()), i)
        pending = changes
    else:
        spells, open_, pending = list(acc.spells), dict(acc.open), changes[-1:]
    for change in pending:
        _apply(spells, open_, change)
    return replace(acc, changes=changes, spells=tuple(spells), open=open_)


def _apply(spells: list[MemberSpell], open_: dict[str, tuple[int, ...]], change: Data) -> None:
    """One members change: who left first, then who joined (unless still a member)."""
    effective = date.fromisoformat(change["effective_date"])
    for client in change.get("left", ()):
        for i in open_.pop(client["client_ref"], ()):
            spells[i] = replace(spells[i], left_on=effective)
    for m in change.get("joined", ()):
        if m["client_ref"] not in open_:
            open_[m["client_ref"]] = (len(spells),)
            spells.append(
                MemberSpell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), effective)
            )


def _phase_changed(acc: TrajectoryAcc, data: Data) -> TrajectoryAcc:
    # One phase per date; a later event for the same date corrects it.
    spell = PhaseSpell(data["phase"], date.fromisoformat(data["effective_date"]))
    phases = acc.phases
    at = bisect_left(phases, spell.effective_date, key=lambda p: p.effective_date)
    same = at < len(phases) and phases[at].effective_date == spell.effective_date
    return replace(acc, phases=(*phases[:at], spell, *phases[at + same :]), latest=data)


FOLDS: dict[str, Callable[[Any, Data], Any]] = {
    "stroom.benefit.started.v1": _started,
    "stroom.benefit.members_changed.v1": _members_changed,
    "stroom.benefit.ended.v1": _ended,
    "stroom.placement.started.v1": _opened,
    "stroom.placement.ended.v1": _closed,
    "stroom.application.received.v1": _opened,
    "stroom.application.decided.v1": _closed,
    "stroom.trajectory.phase_changed.v1": _phase_changed,
    "stroom.trajectory.ended.v1": _ended,
}

_EMPTY: dict[str, Acc] = {
    "benefit": BenefitAcc(),
    "placement": Pair(),
    "application": Pair(),
    "trajectory": TrajectoryAcc(),
}


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _benefit(acc: BenefitAcc) -> BenefitState | None:
    started = acc.started
    if started is None:
        return None
    ended = acc.ended or {}
    return BenefitState(
        municipality=started["municipality"],
        regulation=started["regulation"],
        start_date=date.fromisoformat(started["start_date"]),
        end_date=_day(ended.get("end_date")),
        inflow_reason=started["inflow_reason"],
        outflow_reason=ended.get("outflow_reason"),
        application_ref=started.get("application_ref"),
        members=acc.spells,
    )


def _placement(acc: Pair) -> PlacementState | None:
    opened = acc.opened
    if opened is None:
        return None
    closed = acc.closed or {}
    return PlacementState(
        client_ref=opened["client"]["client_ref"],
        municipality=opened["municipality"],
        kind=opened["kind"],
        start_date=date.fromisoformat(opened["start_date"]),
        end_date=_day(closed.get("end_date")),
        hours_per_week=opened.get("hours_per_week"),
        employer_ref=opened.get("employer_ref"),
        end_reason=closed.get("reason"),
    )


def _application(acc: Pair) -> ApplicationState | None:
    opened = acc.opened
    if opened is None:
        return None
    closed = acc.closed or {}
    return ApplicationState(
        client_ref=opened["client"]["client_ref"],
        municipality=opened["municipality"],
        regulation=opened["regulation"],
        received_on=date.fromisoformat(opened["received_on"]),
        decision=closed.get("decision"),
        decided_on=_day(closed.get("decided_on")),
    )


def _trajectory(acc: TrajectoryAcc) -> TrajectoryState | None:
    latest = acc.latest
    if latest is None:
        return None
    ended = acc.ended or {}
    return TrajectoryState(
        client_ref=latest["client"]["client_ref"],
        municipality=latest["municipality"],
        phases=acc.phases,
        end_date=_day(ended.get("end_date")),
        outcome=ended.get("outcome"),
    )


_MATERIALISE: dict[str, Callable[[Any], EntityState | None]] = {
    "benefit": _benefit,
    "placement": _placement,
    "application": _application,
    "trajectory": _trajectory,
}


def fold(kind: str, events: Iterable[Event]) -> EntityState | None:
    """The state of an entity of `kind` from a set of its (non-retracted) events, in any order."""
    acc: Acc = _EMPTY[kind]
    # Keyed by (source, id): a redelivered event is the same event, folded once.
    unique = {(e.source, e.id): e for e in events}
    for event in sorted(unique.values(), key=lambda e: e.order):
        acc = _step(acc, event)
    return _MATERIALISE[kind](acc)


def _step(acc: Acc, event: Event) -> Acc:
    step = FOLDS.get(event.type)
    return acc if step is None else step(acc, event.data)


def _order(event: Event) -> tuple[datetime, str, str]:
    return event.order


def history(kind: str, stored: Sequence[Stored]) -> list[Version]:
    """One version per distinct recorded time (events and retractions); equal neighbours collapsed."""
    unique = {(s.event.source, s.event.id): s for s in stored}
    times = sorted(
        {s.event.time for s in unique.values()} | {m for s in unique.values() for m in s.retracted}
    )
    # At which moments (indices into `times`) each event starts and stops counting.
    starting: dict[int, list[Event]] = defaultdict(list)
    stopping: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for ident, s in unique.items():
        periods = ((s.event.time, None),) if s.periods is None else s.periods
        for start, end in periods:
            first = bisect_left(times, start)
            until = len(times) if end is None else bisect_left(times, end)
            if first < until:
                starting[first].append(s.event)
                stopping[until].add(ident)
    # Events sort by recorded time first, so events arriving at a moment follow all those known
    # before it and are folded onto the latest accumulator; an event that stops or starts again
    # counting within the known ones refolds only those after it, from the accumulator before it.
    known: list[Event] = []
    accs: list[Acc] = [_EMPTY[kind]]  # accs[i]: the first i known events folded
    versions: list[Version] = []
    for index, moment in enumerate(times):
        gone = stopping.get(index, set())
        # One stretch ending where the next begins: the event goes on counting.
        added = sorted((e for e in starting.get(index, ()) if (e.source, e.id) not in gone), key=_order)
        gone -= {(e.source, e.id) for e in starting.get(index, ())}
        if gone or (added and known and added[0].order < known[-1].order):
            lowest = min(
                [e.order for e in known if (e.source, e.id) in gone] + [e.order for e in added[:1]],
                default=None,
            )
            first = len(known) if lowest is None else bisect_left(known, lowest, key=_order)
            again = [e for e in known[first:] if (e.source, e.id) not in gone]
            added = sorted(again + added, key=_order)
            del known[first:], accs[first + 1 :]
        for event in added:
            known.append(event)
            accs.append(_step(accs[-1], event))
        state = _MATERIALISE[kind](accs[-1])
        if not versions or versions[-1].state != state:
            versions.append(Version(moment, state))
    return versions
