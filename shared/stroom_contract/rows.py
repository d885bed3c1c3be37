"""The rows caseload's facts carry (topic `stroom.caseload.facts.v2`), and how they follow from an
entity's states: what reporting counts, each row valid over recorded time.

A state gives rows (`count_spells`, `placement_spells`, `application_rows`, `phase_rows`); an
entity's versions over recorded time give row versions (`recorded_rows`): a row lives from the
first version that yields it (`recorded_from`, inclusive) until the first later one that no longer
does (`recorded_to`, exclusive; None while it holds). A row version is identified by the entity,
the row's fields and its `recorded_from`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, cast

from stroom_contract.chunked import changed_positions

if TYPE_CHECKING:
    # The facts contract holds the rows in its records: it imports this module.
    from stroom_contract.facts import (
        ApplicationState,
        BenefitState,
        EntityState,
        MemberSpell,
        PlacementState,
        TrajectoryState,
    )

BENEFITS = "benefits"
PERSONS = "persons"
UNITS = (BENEFITS, PERSONS)

R = TypeVar("R")
S = TypeVar("S")


# The rows below are made by `tuple.__new__`, in C: a named tuple's own constructor is a Python
# function, a call more for every row of every version folded.
_made = tuple.__new__


# Rows are tuples: hashed and compared per version, and sent to the database as they are.
class Recorded(NamedTuple, Generic[R]):
    """A row valid in recorded time from `recorded_from` (inclusive) to `recorded_to` (exclusive)."""

    row: R
    recorded_from: datetime
    recorded_to: datetime | None


class CountSpell(NamedTuple):
    """A benefit (unit `benefits`, ref = entity) or one person's membership of it (`persons`)."""

    unit: str
    ref: str
    municipality: str
    regulation: str
    start_date: date
    end_date: date | None
    inflow_reason: str | None
    outflow_reason: str | None
    client_ref: str | None
    role: str | None
    birth_date: date | None


class PlacementSpell(NamedTuple):
    client_ref: str
    municipality: str
    kind: str
    start_date: date
    end_date: date | None
    hours_per_week: float | None


class ApplicationRow(NamedTuple):
    client_ref: str
    municipality: str
    regulation: str
    received_on: date
    decision: str | None
    decided_on: date | None


class PhaseRow(NamedTuple):
    """A trajectory's stay in one phase: from `start_date` to `end_date` (exclusive, None = open)."""

    client_ref: str
    municipality: str
    phase: str
    start_date: date
    end_date: date | None
    is_last: bool
    outcome: str | None


def _closed_end(start: date, end: date | None) -> date | None:
    # An end before the start (impossible input) counts as a spell of zero days, so that
    # stock = cumulative inflow - outflow stays equal to "active on the stock date".
    return None if end is None else max(start, end)


# A code's wire value is read as its `_value_` here: `value` is a property of `Enum` that runs in
# Python, and the rows of every version of every fact read several codes.
def count_spells(entity: str, state: BenefitState) -> tuple[CountSpell, ...]:
    member = _member_rows(entity, state)
    return (_benefit_row(entity, state), *map(member, state.members))


def _benefit_row(entity: str, state: BenefitState) -> CountSpell:
    applicant = _applicant(state.members)
    outflow = state.outflow_reason
    return _made(
        CountSpell,
        (
            BENEFITS,
            entity,
            state.municipality,
            state.regulation._value_,
            state.start_date,
            _closed_end(state.start_date, state.end_date),
            state.inflow_reason._value_,
            outflow._value_ if outflow else None,
            applicant.client_ref if applicant else None,
            "applicant" if applicant else None,
            applicant.birth_date if applicant else None,
        ),
    )


def _applicant(members: Sequence[MemberSpell]) -> MemberSpell | None:
    # A loop, not `next` over a generator: half the cost, for each version of every benefit.
    for member in members:
        if member.role == "applicant":
            return member
    return None


def _member_rows(entity: str, state: BenefitState) -> Callable[[MemberSpell], CountSpell]:
    """A member's row of a benefit in `state`: it depends on the spell and on the benefit's
    municipality, regulation and dates only (`_membership_base`)."""
    # Every version of every fact passes here: the state's fields are read once.
    municipality, start = state.municipality, state.start_date
    regulation = state.regulation._value_
    benefit_end = _closed_end(start, state.end_date)

    def row(member: MemberSpell) -> CountSpell:
        joined, left = member.joined_on, member.left_on
        member_start = joined if joined > start else start
        if left is None:
            member_end = benefit_end
        elif benefit_end is None or left < benefit_end:
            member_end = left
        else:
            member_end = benefit_end
        return _made(
            CountSpell,
            (
                PERSONS,
                entity,
                municipality,
                regulation,
                member_start,
                _closed_end(member_start, member_end),
                None,
                None,
                member.client_ref,
                member.role._value_,
                member.birth_date,
            ),
        )

    return row


def _membership_base(state: BenefitState) -> tuple[object, ...]:
    return state.municipality, state.regulation, state.start_date, state.end_date


def count_spell_change(
    entity: str, before: BenefitState, after: BenefitState
) -> tuple[list[CountSpell], list[CountSpell]] | None:
    """The count spells `before` gives and `after` no longer does, and those `after` gives anew
    (each as often as it is given: two members may give one row), found from the members that
    changed: the fold keeps a spell it did not change as the same object, so a version that
    changes one membership of many costs that one. None when the benefit's own dates,
    municipality or regulation change: that changes every row."""
    if _membership_base(before) != _membership_base(after):
        return None
    old, new = before.members, after.members
    changed = changed_positions(old, new)
    gone = [old[i] for i in changed if i < len(old)]
    came = [new[i] for i in changed if i < len(new)]
    rows_before, rows_after = _benefit_row(entity, before), _benefit_row(entity, after)
    removed = list(map(_member_rows(entity, before), gone))
    added = list(map(_member_rows(entity, after), came))
    if rows_before != rows_after:
        removed.append(rows_before)
        added.append(rows_after)
    return removed, added


def placement_spells(state: PlacementState) -> tuple[PlacementSpell, ...]:
    return (
        _made(
            PlacementSpell,
            (
                state.client_ref,
                state.municipality,
                state.kind._value_,
                state.start_date,
                _closed_end(state.start_date, state.end_date),
                state.hours_per_week,
            ),
        ),
    )


def application_rows(state: ApplicationState) -> tuple[ApplicationRow, ...]:
    return (
        _made(
            ApplicationRow,
            (
                state.client_ref,
                state.municipality,
                state.regulation._value_,
                state.received_on,
                state.decision._value_ if state.decision else None,
                state.decided_on,
            ),
        ),
    )


def phase_rows(state: TrajectoryState) -> tuple[PhaseRow, ...]:
    phases = sorted(state.phases, key=lambda p: p.effective_date)
    rows = []
    for index, spell in enumerate(phases):
        last = index == len(phases) - 1
        end = state.end_date if last else phases[index + 1].effective_date
        rows.append(
            _made(
                PhaseRow,
                (
                    state.client_ref,
                    state.municipality,
                    spell.phase._value_,
                    spell.effective_date,
                    _closed_end(spell.effective_date, end),
                    last,
                    state.outcome._value_ if last and state.outcome else None,
                ),
            )
        )
    return tuple(rows)


class RecordedRows(Generic[R]):
    """Row versions over recorded time, built version by version: a row lives from the version
    that first yields it until the first later version that no longer does. Each version is given
    as the rows it stops and starts yielding (`step`), so a version that changes few of many rows
    costs those few; the rows open are kept in place for the next version (a live entity's
    rows between its batches)."""

    __slots__ = ("closed", "held", "since")

    def __init__(self, opened: Mapping[R, datetime] | None = None, held: Iterable[R] = ()) -> None:
        """`opened`: rows living before the first version, with the moment each began; `held`:
        the rows the version before the first yields, as often as it yields each (by default
        `opened`'s, once each)."""
        self.closed: list[Recorded[R]] = []
        self.since: dict[R, datetime] = dict(opened or {})
        self.held: dict[R, int] = {}
        for row in held or self.since:
            self.held[row] = self.held.get(row, 0) + 1

    def step(self, moment: datetime, gone: Iterable[R], came: Iterable[R]) -> list[R]:
        """The version recorded at `moment`: the rows the one before yields and it does not, and
        those it yields anew (a row given in both stays). Returns the rows opened at `moment`."""
        held, since = self.held, self.since
        gone = list(gone)
        for row in gone:
            held[row] -= 1
        opened = []
        for row in came:
            count = held.get(row, 0)
            held[row] = count + 1
            if count == 0 and row not in since:
                since[row] = moment
                opened.append(row)
        for row in gone:
            if held.get(row) == 0:
                del held[row]
                self.closed.append(_made(Recorded, (row, since.pop(row), moment)))
        return opened

    def versions(self) -> list[Recorded[R]]:
        return [*self.closed, *(_made(Recorded, (row, since, None)) for row, since in self.since.items())]


def recorded_rows(
    versions: Sequence[tuple[datetime, S | None]],
    derive: Callable[[S], tuple[R, ...]],
    opened: dict[R, datetime] | None = None,
) -> list[Recorded[R]]:
    """Rows per version, merged while unchanged (see `RecordedRows`). `opened`: rows that were
    already living before the first version, with the moment each began."""
    book: RecordedRows[R] = RecordedRows(opened)
    before: Iterable[R] = list(book.since)
    for recorded_from, state in sorted(versions, key=lambda v: v[0]):
        derived = derive(state) if state is not None else ()
        book.step(recorded_from, before, derived)
        before = derived
    return book.versions()


Row = CountSpell | PlacementSpell | ApplicationRow | PhaseRow
RowVersion = Recorded[Row]
# A row version's identity: a later record of it can only move its recorded_to.
RowKey = tuple[Row, datetime]


class EntityRows:
    """An entity's row versions, kept open to its later states: the rows of each new state are
    found from what changed since the state before (`count_spell_change` for a benefit)."""

    __slots__ = ("book", "derived", "entity", "kind", "state")

    def __init__(
        self,
        kind: str,
        entity: str,
        closed: Iterable[RowVersion] = (),
        opened: Mapping[Row, datetime] | None = None,
    ) -> None:
        """`closed` and `opened`: the row versions so far, those `opened` living on (with the
        moment each began). The state that yields them is not known: the first state added is
        compared with them whole."""
        self.kind, self.entity = kind, entity
        self.book: RecordedRows[Row] = RecordedRows(opened)
        self.book.closed.extend(closed)
        self.state: EntityState | _Unknown | None = _UNKNOWN if opened else None
        # The rows `state` yields, once derived (None: not derived, a benefit's state reached
        # from what changed in its members): the next state steps from them.
        self.derived: tuple[Row, ...] | None = ()

    def _derive(self, state: EntityState | None) -> tuple[Row, ...]:
        if state is None:
            return ()
        if self.kind == "benefit":
            return count_spells(self.entity, cast("BenefitState", state))
        return _DERIVE[self.kind](state)

    def add(self, moment: datetime, state: EntityState | None) -> list[Row]:
        """The entity's state from `moment` on (after all those added before); returns the
        rows it opened."""
        before, self.state = self.state, state
        gone: Iterable[Row]
        if isinstance(before, _Unknown):
            gone = list(self.book.since)
        else:
            if self.kind == "benefit" and before is not None and state is not None:
                change = count_spell_change(
                    self.entity, cast("BenefitState", before), cast("BenefitState", state)
                )
                if change is not None:
                    self.derived = None
                    return self.book.step(moment, *change)
            gone = self._derive(before) if self.derived is None else self.derived
        self.derived = self._derive(state)
        return self.book.step(moment, gone, self.derived)

    def extend(self, versions: Iterable[tuple[datetime, EntityState | None]]) -> list[RowVersion]:
        """`add` each of `versions` (in recorded order, after those added before); returns the row
        versions put in or whose recorded_to moved: what turns the rows before into those after."""
        book = self.book
        mark = len(book.closed)
        opened: dict[Row, datetime] = {}
        for moment, state in versions:
            opened.update(dict.fromkeys(self.add(moment, state), moment))
        still = [Recorded(row, at, None) for row, at in opened.items() if book.since.get(row) == at]
        return [*book.closed[mark:], *still]

    def versions(self) -> list[RowVersion]:
        return self.book.versions()


class _Unknown:
    """The state before an entity's first state added, when only its rows are known."""


_UNKNOWN = _Unknown()


def entity_rows(
    kind: str, entity: str, versions: Sequence[tuple[datetime, EntityState | None]]
) -> list[RowVersion]:
    """The row versions of an entity of `kind` whose states over recorded time are `versions`."""
    rows = EntityRows(kind, entity)
    rows.extend(sorted(versions, key=lambda v: v[0]))
    return rows.versions()


_DERIVE: dict[str, Callable[[Any], tuple[Row, ...]]] = {
    "placement": placement_spells,
    "application": application_rows,
    "trajectory": phase_rows,
}


def row_change(
    previous: Iterable[RowVersion], current: Iterable[RowVersion]
) -> tuple[list[RowVersion], list[RowVersion]]:
    """What turns the row versions `previous` into `current`: the versions put in or whose
    recorded_to moved, and those taken out."""
    before: dict[RowKey, datetime | None] = {(r.row, r.recorded_from): r.recorded_to for r in previous}
    put = []
    for version in current:
        key = (version.row, version.recorded_from)
        if key not in before or before.pop(key) != version.recorded_to:
            put.append(version)
    return put, [Recorded(row, since, until) for (row, since), until in before.items()]
