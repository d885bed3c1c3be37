"""Folds an entity's events, in canonical order, into its state and its history over recorded time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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

Data = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pair:
    """What placements and applications accumulate: the latest opening and closing event."""

    opened: Data | None = None
    closed: Data | None = None


@dataclass(frozen=True, slots=True)
class BenefitAcc:
    started: Data | None = None
    ended: Data | None = None
    changes: tuple[Data, ...] = ()


@dataclass(frozen=True, slots=True)
class TrajectoryAcc:
    phases: tuple[Data, ...] = ()
    ended: Data | None = None


Acc = Pair | BenefitAcc | TrajectoryAcc


def _opened(acc: Any, data: Data) -> Any:
    return replace(acc, opened=data)


def _closed(acc: Any, data: Data) -> Any:
    return replace(acc, closed=data)


def _started(acc: Any, data: Data) -> Any:
    # A later `started` is a correction: it replaces the earlier one as a whole.
    return replace(acc, started=data)


def _ended(acc: Any, data: Data) -> Any:
    return replace(acc, ended=data)


def _members_changed(acc: Any, data: Data) -> Any:
    return replace(acc, changes=(*acc.changes, data))


def _phase_changed(acc: Any, data: Data) -> Any:
    return replace(acc, phases=(*acc.phases, data))


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


def kind_of(event_type: str) -> str:
    """`benefit`, `placement`, `application`, `trajectory`, or `client` for point facts."""
    kind = event_type.split(".")[1]
    return kind if kind in _EMPTY else "client"


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _benefit(acc: BenefitAcc) -> BenefitState | None:
    started = acc.started
    if started is None:
        return None
    start = date.fromisoformat(started["start_date"])
    spells = [
        MemberSpell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), start)
        for m in started["members"]
    ]
    # Stable sort: changes on one date keep their canonical order.
    for change in sorted(acc.changes, key=lambda c: c["effective_date"]):
        effective = date.fromisoformat(change["effective_date"])
        for client in change.get("left", ()):
            for i, spell in enumerate(spells):
                if spell.client_ref == client["client_ref"] and spell.left_on is None:
                    spells[i] = replace(spell, left_on=effective)
        for m in change.get("joined", ()):
            if not any(s.client_ref == m["client_ref"] and s.left_on is None for s in spells):
                spells.append(
                    MemberSpell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), effective)
                )
    ended = acc.ended or {}
    return BenefitState(
        municipality=started["municipality"],
        regulation=started["regulation"],
        start_date=start,
        end_date=_day(ended.get("end_date")),
        inflow_reason=started["inflow_reason"],
        outflow_reason=ended.get("outflow_reason"),
        application_ref=started.get("application_ref"),
        members=tuple(spells),
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
    if not acc.phases:
        return None
    # One phase per date; a later event for the same date corrects it.
    by_date = {date.fromisoformat(p["effective_date"]): p["phase"] for p in acc.phases}
    latest = acc.phases[-1]
    ended = acc.ended or {}
    return TrajectoryState(
        client_ref=latest["client"]["client_ref"],
        municipality=latest["municipality"],
        phases=tuple(PhaseSpell(phase, day) for day, phase in sorted(by_date.items())),
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


def history(kind: str, stored: Sequence[Stored]) -> list[Version]:
    """One version per distinct recorded time (events and retractions); equal neighbours collapsed."""
    unique = {(s.event.source, s.event.id): s for s in stored}
    ordered = sorted(unique.values(), key=lambda s: s.event.order)
    times: set[datetime] = {s.event.time for s in ordered}
    times.update(moment for s in ordered for moment in s.retracted)
    retracted = any(s.periods is not None for s in ordered)
    versions: list[Version] = []
    # Events sort by recorded time first, so without retractions the events known at each
    # moment extend those known at the previous one: one fold step per event, not per moment.
    acc: Acc = _EMPTY[kind]
    folded = 0
    for moment in sorted(times):
        if retracted:
            state = fold(kind, (s.event for s in ordered if s.counts_at(moment)))
        else:
            while folded < len(ordered) and ordered[folded].event.time <= moment:
                acc = _step(acc, ordered[folded].event)
                folded += 1
            state = _MATERIALISE[kind](acc)
        if not versions or versions[-1].state != state:
            versions.append(Version(moment, state))
    return versions
