"""The rows caseload's facts carry (topic `stroom.caseload.facts.v2`), and how they follow from an
entity's states: what reporting counts, each row valid over recorded time.

A state gives rows (`count_spells`, `placement_spells`, `application_rows`, `phase_rows`); an
entity's versions over recorded time give row versions (`recorded_rows`): a row lives from the
first version that yields it (`recorded_from`, inclusive) until the first later one that no longer
does (`recorded_to`, exclusive; None while it holds). A row version is identified by the entity,
the row's fields and its `recorded_from`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    # The facts contract holds the rows in its records: it imports this module.
    from stroom_contract.facts import (
        ApplicationState,
        BenefitState,
        EntityState,
        PlacementState,
        TrajectoryState,
    )

BENEFITS = "benefits"
PERSONS = "persons"
UNITS = (BENEFITS, PERSONS)

R = TypeVar("R")
S = TypeVar("S")


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


def count_spells(entity: str, state: BenefitState) -> tuple[CountSpell, ...]:
    # Every version of every fact passes here: the state's fields are read once.
    municipality, start = state.municipality, state.start_date
    regulation = state.regulation.value
    members = state.members
    applicant = next((m for m in members if m.role == "applicant"), None)
    benefit_end = _closed_end(start, state.end_date)
    outflow = state.outflow_reason
    spells = [
        CountSpell(
            BENEFITS,
            entity,
            municipality,
            regulation,
            start,
            benefit_end,
            state.inflow_reason.value,
            outflow.value if outflow else None,
            applicant.client_ref if applicant else None,
            "applicant" if applicant else None,
            applicant.birth_date if applicant else None,
        )
    ]
    for member in members:
        joined, left = member.joined_on, member.left_on
        member_start = joined if joined > start else start
        if left is None:
            member_end = benefit_end
        elif benefit_end is None or left < benefit_end:
            member_end = left
        else:
            member_end = benefit_end
        spells.append(
            CountSpell(
                PERSONS,
                entity,
                municipality,
                regulation,
                member_start,
                _closed_end(member_start, member_end),
                None,
                None,
                member.client_ref,
                member.role.value,
                member.birth_date,
            )
        )
    return tuple(spells)


def placement_spells(state: PlacementState) -> tuple[PlacementSpell, ...]:
    return (
        PlacementSpell(
            state.client_ref,
            state.municipality,
            state.kind.value,
            state.start_date,
            _closed_end(state.start_date, state.end_date),
            state.hours_per_week,
        ),
    )


def application_rows(state: ApplicationState) -> tuple[ApplicationRow, ...]:
    return (
        ApplicationRow(
            state.client_ref,
            state.municipality,
            state.regulation.value,
            state.received_on,
            state.decision.value if state.decision else None,
            state.decided_on,
        ),
    )


def phase_rows(state: TrajectoryState) -> tuple[PhaseRow, ...]:
    phases = sorted(state.phases, key=lambda p: p.effective_date)
    rows = []
    for index, spell in enumerate(phases):
        last = index == len(phases) - 1
        end = state.end_date if last else phases[index + 1].effective_date
        rows.append(
            PhaseRow(
                state.client_ref,
                state.municipality,
                spell.phase.value,
                spell.effective_date,
                _closed_end(spell.effective_date, end),
                last,
                state.outcome.value if last and state.outcome else None,
            )
        )
    return tuple(rows)


def recorded_rows(
    versions: Sequence[tuple[datetime, S | None]],
    derive: Callable[[S], tuple[R, ...]],
    opened: dict[R, datetime] | None = None,
) -> list[Recorded[R]]:
    """Rows per version, merged while unchanged: a row lives from the version that first
    yields it until the first later version that no longer does. `opened`: rows that were already
    living before the first version, with the moment each began."""
    open_rows: dict[R, datetime] = dict(opened or {})
    result: list[Recorded[R]] = []
    for recorded_from, state in sorted(versions, key=lambda v: v[0]):
        # Walked in the order derived, not the set's: the same versions give the same list.
        derived = derive(state) if state is not None else ()
        current = set(derived)
        for row in [r for r in open_rows if r not in current]:
            result.append(Recorded(row, open_rows.pop(row), recorded_from))
        for row in derived:
            open_rows.setdefault(row, recorded_from)
    result.extend(Recorded(row, since, None) for row, since in open_rows.items())
    return result


Row = CountSpell | PlacementSpell | ApplicationRow | PhaseRow
RowVersion = Recorded[Row]
# A row version's identity: a later record of it can only move its recorded_to.
RowKey = tuple[Row, datetime]


def entity_rows(
    kind: str,
    entity: str,
    versions: Sequence[tuple[datetime, EntityState | None]],
    opened: dict[Row, datetime] | None = None,
) -> list[RowVersion]:
    """The row versions of an entity of `kind` whose states over recorded time are `versions`
    (`opened`: as for `recorded_rows`)."""
    derive = partial(count_spells, entity) if kind == "benefit" else _DERIVE[kind]
    return recorded_rows(versions, derive, opened)


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
