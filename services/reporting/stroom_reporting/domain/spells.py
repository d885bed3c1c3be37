"""Entity histories (facts) to bitemporal spell rows: what is counted, valid over recorded time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, NamedTuple, TypeVar

from stroom_contract.facts import (
    ApplicationHistory,
    ApplicationState,
    BenefitHistory,
    BenefitState,
    PlacementHistory,
    PlacementState,
    TrajectoryHistory,
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
        current = set(derive(state)) if state is not None else set()
        for row in [r for r in open_rows if r not in current]:
            result.append(Recorded(row, open_rows.pop(row), recorded_from))
        for row in current:
            open_rows.setdefault(row, recorded_from)
    result.extend(Recorded(row, since, None) for row, since in open_rows.items())
    return result


History = BenefitHistory | PlacementHistory | ApplicationHistory | TrajectoryHistory


def benefit_rows(history: BenefitHistory) -> list[Recorded[CountSpell]]:
    return recorded_rows(
        [(v.recorded_from, v.state) for v in history.versions],
        lambda state: count_spells(history.entity, state),
    )


def placement_rows(history: PlacementHistory) -> list[Recorded[PlacementSpell]]:
    return recorded_rows([(v.recorded_from, v.state) for v in history.versions], placement_spells)


def application_history_rows(history: ApplicationHistory) -> list[Recorded[ApplicationRow]]:
    return recorded_rows([(v.recorded_from, v.state) for v in history.versions], application_rows)


def trajectory_rows(history: TrajectoryHistory) -> list[Recorded[PhaseRow]]:
    return recorded_rows([(v.recorded_from, v.state) for v in history.versions], phase_rows)


@dataclass
class RowChanges:
    """How an entity kind's stored rows become those of the winning facts: rows that stay as they
    are (most of them, each fact repeats the history before it) are left alone."""

    inserted: list[tuple[Any, ...]]
    # (id, new recorded_to, the stored row): a version superseded since, or superseded no more.
    closed: list[tuple[int, datetime | None, tuple[Any, ...]]]
    deleted: list[tuple[int, tuple[Any, ...]]]


def changed_since(changes: RowChanges) -> dict[str, datetime]:
    """Per entity, the earliest recorded moment from which its rows differ: a row put in or taken
    out from its recorded_from, a row closed otherwise from the earlier of its old and new ends."""
    since: dict[str, datetime] = {}

    def at(entity: str, moment: datetime) -> None:
        since[entity] = min(moment, since.get(entity, moment))

    for row in changes.inserted:
        at(row[0], row[-2])
    for _, row in changes.deleted:
        at(row[0], row[-2])
    for _, to, row in changes.closed:
        at(row[0], min(m for m in (to, row[-1]) if m is not None))
    return since


def row_changes(stored: Iterable[Sequence[Any]], rows: Iterable[tuple[Any, ...]]) -> RowChanges:
    """Stored rows are (id, entity, *columns, recorded_to) and new ones (entity, *columns,
    recorded_to); a row is the same one when all but recorded_to are equal."""
    by_key = {tuple(row[1:-1]): (row[0], tuple(row[1:])) for row in stored}
    changes = RowChanges([], [], [])
    for row in rows:
        found = by_key.pop(row[:-1], None)
        if found is None:
            changes.inserted.append(row)
        elif found[1][-1] != row[-1]:
            changes.closed.append((found[0], row[-1], found[1]))
    changes.deleted.extend(by_key.values())
    return changes
