"""Folds an entity's events, in canonical order, into its state and its history over recorded time.

The fold is `(accumulator, event data) -> accumulator`, dispatched on the contract's typed event
data. The accumulators keep the state's parts as they fold (a benefit's member spells, a
trajectory's phases), so materialising the state at a recorded moment is not a replay of the
entity's events.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

from stroom_caseload.domain.client import pseudonym
from stroom_caseload.domain.events import Event, Stored
from stroom_contract.chunked import Chunked
from stroom_contract.events import (
    ApplicationDecidedData,
    ApplicationReceivedData,
    BenefitEndedData,
    BenefitMembersChangedData,
    BenefitStartedData,
    EventData,
    Member,
    PlacementEndedData,
    PlacementStartedData,
    TrajectoryEndedData,
    TrajectoryPhaseChangedData,
    trusted_data,
)
from stroom_contract.facts import (
    ApplicationState,
    ApplicationVersion,
    BenefitState,
    BenefitVersion,
    EntityState,
    MemberSpell,
    PhaseSpell,
    PlacementState,
    PlacementVersion,
    TrajectoryState,
    TrajectoryVersion,
    Version,
)

Order = tuple[datetime, str, str]


# A named tuple, as the accumulators below that a step builds per event folded: cheaper to build
# than a frozen dataclass, which sets each field through `object.__setattr__`.
class Typed(NamedTuple):
    """An event as the fold sees it: its canonical order and its typed data."""

    order: Order
    data: EventData

    @classmethod
    def of(cls, event: Event) -> Typed:
        typed = event.typed
        return cls(event.order, trusted_data(event.type, event.data) if typed is None else typed)

    @property
    def ident(self) -> tuple[str, str]:
        return self.order[1], self.order[2]


class Change(NamedTuple):
    """A members change as a benefit's accumulator keeps it: its date, who left (pseudonyms) and
    the spells of who joined. Not the event's typed data: the accumulator keeps every change of
    the benefit's history (for a change dated before them that comes later), and a live worker
    keeps the accumulators of the entities it folded last, where the data's models, several
    times the size, made its heap grow with the histories."""

    effective_date: date
    left: tuple[str, ...]
    joined: tuple[MemberSpell, ...]

    @classmethod
    def of(cls, data: BenefitMembersChangedData) -> Change:
        effective = data.effective_date
        return cls(
            effective, tuple(map(pseudonym, data.left)), tuple(_spell(m, effective) for m in data.joined)
        )


class Changes(NamedTuple):
    """A benefit's members changes in effective-date order, as a chain from the last one back:
    a change dated on or after the last goes on top in one step and shares the rest with the
    accumulator before it, where a tuple would be copied whole on every event of a long history."""

    last: Change
    before: Changes | None = None

    def in_order(self) -> list[Change]:
        found = []
        link: Changes | None = self
        while link is not None:
            found.append(link.last)
            link = link.before
        found.reverse()
        return found


def _chained(changes: Iterable[Change]) -> Changes | None:
    chain = None
    for change in changes:
        chain = Changes(change, chain)
    return chain


class BenefitAcc(NamedTuple):
    """`changes` in effective-date order (canonical order within a date); once started, `spells`
    are the members after applying them in that order, and `open` the open spells per person."""

    started: BenefitStartedData | None = None
    ended: BenefitEndedData | None = None
    changes: Changes | None = None
    spells: Chunked[MemberSpell] = Chunked()
    # Read only: a step copies it to change it.
    open: Mapping[str, tuple[int, ...]] = MappingProxyType({})


Opening = TypeVar("Opening", bound=EventData)
Closing = TypeVar("Closing", bound=EventData)


class Pair(NamedTuple, Generic[Opening, Closing]):
    """What placements and applications accumulate: the latest opening and closing event folded;
    a later one corrects an earlier one as a whole."""

    opened: Opening | None = None
    closed: Closing | None = None


PlacementAcc = Pair[PlacementStartedData, PlacementEndedData]
ApplicationAcc = Pair[ApplicationReceivedData, ApplicationDecidedData]


class TrajectoryAcc(NamedTuple):
    """`phases` by date, one per date; `latest` is the last phase event folded."""

    phases: tuple[PhaseSpell, ...] = ()
    latest: TrajectoryPhaseChangedData | None = None
    ended: TrajectoryEndedData | None = None


# The steps build the next accumulator with its constructor: `dataclasses.replace` looks up
# every field by name, once per event folded.
def _benefit_step(acc: BenefitAcc, data: EventData) -> BenefitAcc:
    match data:
        case BenefitStartedData():
            # A later `started` is a correction: it replaces the earlier one as a whole.
            corrected = BenefitAcc(data, acc.ended, acc.changes, acc.spells, acc.open)
            return _with_members(corrected, acc.changes, replay=True)
        case BenefitMembersChangedData():
            last, change = acc.changes, Change.of(data)
            if last is None or change.effective_date >= last.last.effective_date:
                return _with_members(acc, Changes(change, last), replay=False)
            # Only a change dated before one already applied alters what follows it.
            ordered = last.in_order()
            at = bisect_right(ordered, change.effective_date, key=_effective)
            return _with_members(acc, _chained([*ordered[:at], change, *ordered[at:]]), replay=True)
        case BenefitEndedData():
            return BenefitAcc(acc.started, data, acc.changes, acc.spells, acc.open)
    return acc


def _effective(change: Change) -> date:
    return change.effective_date


def _with_members(acc: BenefitAcc, changes: Changes | None, replay: bool) -> BenefitAcc:
    """`replay`: the members again from the start and every change; else `changes`' last one
    applied to the members there are."""
    started = acc.started
    if started is None:
        return BenefitAcc(None, acc.ended, changes, acc.spells, acc.open)
    open_: dict[str, tuple[int, ...]]
    if not replay:
        assert changes is not None, "a change applied on its own is there"
        open_ = dict(acc.open)
        spells = acc.spells.edited(_apply(acc.spells, open_, changes.last))
        return BenefitAcc(started, acc.ended, changes, spells, open_)
    listed = [_spell(m, started.start_date) for m in started.members]
    open_ = {}
    for i, spell in enumerate(listed):
        open_[spell.client_ref] = (*open_.get(spell.client_ref, ()), i)
    for change in () if changes is None else changes.in_order():
        for i, spell in _apply(listed, open_, change).items():
            if i < len(listed):
                listed[i] = spell
            else:
                listed.append(spell)
    return BenefitAcc(started, acc.ended, changes, Chunked(listed), open_)


def _apply(
    spells: Sequence[MemberSpell], open_: dict[str, tuple[int, ...]], change: Change
) -> dict[int, MemberSpell]:
    """One members change, as the spells it sets by position (those who join from the spells'
    length on, in order): who left first, then who joined (unless still a member)."""
    effective = change.effective_date
    edits: dict[int, MemberSpell] = {}
    for ref in change.left:
        for i in open_.pop(ref, ()):
            edits[i] = replace(spells[i], left_on=effective)
    end = len(spells)
    for spell in change.joined:
        ref = spell.client_ref
        if ref not in open_:
            open_[ref] = (end,)
            edits[end] = spell
            end += 1
    return edits


def _spell(member: Member, joined_on: date) -> MemberSpell:
    return MemberSpell(
        client_ref=pseudonym(member), role=member.role, birth_date=member.birth_date, joined_on=joined_on
    )


def _pair_step(
    opening: type[Opening], closing: type[Closing]
) -> Callable[[Pair[Opening, Closing], EventData], Pair[Opening, Closing]]:
    def step(acc: Pair[Opening, Closing], data: EventData) -> Pair[Opening, Closing]:
        if isinstance(data, opening):
            return Pair(data, acc.closed)
        if isinstance(data, closing):
            return Pair(acc.opened, data)
        return acc

    return step


def _trajectory_step(acc: TrajectoryAcc, data: EventData) -> TrajectoryAcc:
    match data:
        case TrajectoryPhaseChangedData():
            # One phase per date; a later event for the same date corrects it.
            spell = PhaseSpell(phase=data.phase, effective_date=data.effective_date)
            phases = acc.phases
            at = bisect_left(phases, spell.effective_date, key=lambda p: p.effective_date)
            same = at < len(phases) and phases[at].effective_date == spell.effective_date
            return TrajectoryAcc((*phases[:at], spell, *phases[at + same :]), data, acc.ended)
        case TrajectoryEndedData():
            return TrajectoryAcc(acc.phases, acc.latest, data)
    return acc


def _benefit(acc: BenefitAcc) -> BenefitState | None:
    started, ended = acc.started, acc.ended
    if started is None:
        return None
    return BenefitState(
        municipality=started.municipality,
        regulation=started.regulation,
        start_date=started.start_date,
        end_date=None if ended is None else ended.end_date,
        inflow_reason=started.inflow_reason,
        outflow_reason=None if ended is None else ended.outflow_reason,
        application_ref=started.application_ref,
        members=acc.spells,
    )


def _placement(acc: PlacementAcc) -> PlacementState | None:
    started, ended = acc.opened, acc.closed
    if started is None:
        return None
    return PlacementState(
        client_ref=pseudonym(started.client),
        municipality=started.municipality,
        kind=started.kind,
        start_date=started.start_date,
        end_date=None if ended is None else ended.end_date,
        hours_per_week=started.hours_per_week,
        employer_ref=started.employer_ref,
        end_reason=None if ended is None else ended.reason,
    )


def _application(acc: ApplicationAcc) -> ApplicationState | None:
    received, decided = acc.opened, acc.closed
    if received is None:
        return None
    return ApplicationState(
        client_ref=pseudonym(received.client),
        municipality=received.municipality,
        regulation=received.regulation,
        received_on=received.received_on,
        decision=None if decided is None else decided.decision,
        decided_on=None if decided is None else decided.decided_on,
    )


def _trajectory(acc: TrajectoryAcc) -> TrajectoryState | None:
    latest, ended = acc.latest, acc.ended
    if latest is None:
        return None
    return TrajectoryState(
        client_ref=pseudonym(latest.client),
        municipality=latest.municipality,
        phases=acc.phases,
        end_date=None if ended is None else ended.end_date,
        outcome=None if ended is None else ended.outcome,
    )


A = TypeVar("A")
S = TypeVar("S", BenefitState, PlacementState, ApplicationState, TrajectoryState)


class Memo(NamedTuple, Generic[A]):
    """Where an entity's fold ended, nothing retracting its events: the accumulator, the
    recorded time of the last event folded, how many versions there are and the last of them.
    Events recorded later fold onto it as they would onto the whole history again."""

    acc: A
    moment: datetime
    numbered: int
    last: Version | None


@dataclass(frozen=True, slots=True)
class Projection(Generic[A, S]):
    """An entity kind's fold: its empty accumulator, its step, the state it gives, and the
    contract's version of that state."""

    empty: A
    step: Callable[[A, EventData], A]
    state: Callable[[A], S | None]
    version: Callable[[datetime, S | None], Version]

    def fold(self, typed: Iterable[Typed]) -> S | None:
        acc = self.empty
        for event in typed:
            acc = self.step(acc, event.data)
        return self.state(acc)

    def history(self, stored: Sequence[Stored]) -> tuple[list[Version], Memo[A] | None]:
        """The versions, and where the fold ended when nothing retracts any of the events (for
        `extend`; None otherwise)."""
        unique = {(s.event.source, s.event.id): s for s in stored}
        if all(s.periods is None and not s.retracted for s in unique.values()):
            return self.unretracted([Typed.of(s.event) for s in unique.values()])
        times = sorted(
            {s.event.time for s in unique.values()} | {m for s in unique.values() for m in s.retracted}
        )
        # At which moments (indices into `times`) each event starts and stops counting.
        starting: dict[int, list[Typed]] = defaultdict(list)
        stopping: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for ident, s in unique.items():
            periods = ((s.event.time, None),) if s.periods is None else s.periods
            typed = Typed.of(s.event)
            for start, end in periods:
                first = bisect_left(times, start)
                until = len(times) if end is None else bisect_left(times, end)
                if first < until:
                    starting[first].append(typed)
                    stopping[until].add(ident)
        # Events sort by recorded time first, so events arriving at a moment follow all those known
        # before it and are folded onto the latest accumulator; an event that stops or starts again
        # counting within the known ones refolds only those after it, from the accumulator before it.
        known: list[Typed] = []
        accs = [self.empty]  # accs[i]: the first i known events folded
        versions: list[Version] = []
        for index, moment in enumerate(times):
            gone = stopping.get(index, set())
            # One stretch ending where the next begins: the event goes on counting.
            added = sorted((e for e in starting.get(index, ()) if e.ident not in gone), key=_order)
            gone -= {e.ident for e in starting.get(index, ())}
            if gone or (added and known and added[0].order < known[-1].order):
                lowest = min(
                    [e.order for e in known if e.ident in gone] + [e.order for e in added[:1]],
                    default=None,
                )
                first = len(known) if lowest is None else bisect_left(known, lowest, key=_order)
                again = [e for e in known[first:] if e.ident not in gone]
                added = sorted(again + added, key=_order)
                del known[first:], accs[first + 1 :]
            for event in added:
                known.append(event)
                accs.append(self.step(accs[-1], event.data))
            state = self.state(accs[-1])
            if not versions or versions[-1].state != state:
                versions.append(self.version(moment, state))
        return versions, None

    def unretracted(self, typed: list[Typed]) -> tuple[list[Version], Memo[A] | None]:
        """`history` when nothing retracts any of the events (each given once): each counts from
        its own time on, so the moments are the events' times and the events of each moment fold
        onto the accumulator of the one before (the general walk, without its bookkeeping: most
        entities have no retraction)."""
        typed = sorted(typed, key=_order)
        if not typed:
            return [], None
        versions, acc = self._fold_on(self.empty, typed, None)
        return versions, Memo(acc, typed[-1].order[0], len(versions), versions[-1] if versions else None)

    def unretracted_versions(self, typed: list[Typed]) -> list[Version]:
        """`unretracted`'s versions alone, for a caller that keeps no `Memo`: the rebuild folds
        each entity once, from all its events."""
        return self._fold_on(self.empty, sorted(typed, key=_order), None)[0]

    def extend(self, memo: Memo[A], events: Iterable[Event]) -> tuple[list[Version], Memo[A]] | None:
        """The versions that events recorded after all those folded into `memo` add, from the
        last version there was; None when one of them is not recorded after them all."""
        typed = sorted([Typed.of(e) for e in {(e.source, e.id): e for e in events}.values()], key=_order)
        if not typed or typed[0].order[0] <= memo.moment:
            return None
        added, acc = self._fold_on(memo.acc, typed, memo.last)
        versions = ([] if memo.last is None else [memo.last]) + added
        last = versions[-1] if versions else None
        return versions, Memo(acc, typed[-1].order[0], memo.numbered + len(added), last)

    def _fold_on(self, acc: A, typed: Sequence[Typed], last: Version | None) -> tuple[list[Version], A]:
        """Events in canonical order folded onto `acc`, a version per recorded moment whose state
        differs from the one before (`last`, the version before them)."""
        versions: list[Version] = []
        previous = last
        end = len(typed) - 1
        for index, event in enumerate(typed):
            acc = self.step(acc, event.data)
            moment = event.order[0]
            if index < end and typed[index + 1].order[0] == moment:
                continue
            state = self.state(acc)
            if previous is None or previous.state != state:
                previous = self.version(moment, state)
                versions.append(previous)
        return versions, acc


_NO_PLACEMENT: PlacementAcc = Pair()
_NO_APPLICATION: ApplicationAcc = Pair()
BENEFIT = Projection(BenefitAcc(), _benefit_step, _benefit, BenefitVersion)
PLACEMENT = Projection(
    _NO_PLACEMENT, _pair_step(PlacementStartedData, PlacementEndedData), _placement, PlacementVersion
)
APPLICATION = Projection(
    _NO_APPLICATION,
    _pair_step(ApplicationReceivedData, ApplicationDecidedData),
    _application,
    ApplicationVersion,
)
TRAJECTORY = Projection(TrajectoryAcc(), _trajectory_step, _trajectory, TrajectoryVersion)


AnyProjection = (
    Projection[BenefitAcc, BenefitState]
    | Projection[PlacementAcc, PlacementState]
    | Projection[ApplicationAcc, ApplicationState]
    | Projection[TrajectoryAcc, TrajectoryState]
)
_PROJECTIONS: dict[str, AnyProjection] = {
    "benefit": BENEFIT,
    "placement": PLACEMENT,
    "application": APPLICATION,
    "trajectory": TRAJECTORY,
}


def fold(kind: str, events: Iterable[Event]) -> EntityState | None:
    """The state of an entity of `kind` from a set of its (non-retracted) events, in any order."""
    # Keyed by (source, id): a redelivered event is the same event, folded once.
    typed = sorted((Typed.of(e) for e in {(e.source, e.id): e for e in events}.values()), key=_order)
    return _PROJECTIONS[kind].fold(typed)


def history(kind: str, stored: Sequence[Stored]) -> list[Version]:
    """One version per distinct recorded time (events and retractions); equal neighbours collapsed."""
    return _PROJECTIONS[kind].history(stored)[0]


def history_memo(kind: str, stored: Sequence[Stored]) -> tuple[list[Version], Memo[Any] | None]:
    """`history`, and where its fold ended when nothing retracts any of the events."""
    return _PROJECTIONS[kind].history(stored)


def unretracted_history(kind: str, typed: list[Typed]) -> list[Version]:
    """`history` of events that nothing retracts, each given once, as the fold sees them."""
    projection: Projection[Any, Any] = _PROJECTIONS[kind]
    return projection.unretracted_versions(typed)


def extend(kind: str, memo: Memo[Any], events: Iterable[Event]) -> tuple[list[Version], Memo[Any]] | None:
    """`Projection.extend` for an entity of `kind`: the versions from the last one there was."""
    projection: Projection[Any, Any] = _PROJECTIONS[kind]
    return projection.extend(memo, events)


# In C: a sort calls it once per event, a bisect once per step.
_order: Callable[[Typed], Order] = attrgetter("order")
