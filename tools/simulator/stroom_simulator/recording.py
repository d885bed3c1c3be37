"""What every simulated life shares: event types, the benefit unit, and when a fact gets recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random
from typing import Any

from stroom_contract.codes import (
    OutflowReason,
    Regulation,
)
from stroom_simulator.clock import DAY, day_of
from stroom_simulator.delivery import Delivery
from stroom_simulator.people import Household, Person, Place

APPLICATION_RECEIVED = "stroom.application.received.v1"
APPLICATION_DECIDED = "stroom.application.decided.v1"
BENEFIT_STARTED = "stroom.benefit.started.v1"
MEMBERS_CHANGED = "stroom.benefit.members_changed.v1"
BENEFIT_ENDED = "stroom.benefit.ended.v1"
ASSESSED = "stroom.client.assessed.v1"
COACH_ASSIGNED = "stroom.client.coach_assigned.v1"
PLAN_SENT = "stroom.plan.sent.v1"
PROGRESS_REPORT = "stroom.progress_report.recorded.v1"
PLACEMENT_STARTED = "stroom.placement.started.v1"
PLACEMENT_ENDED = "stroom.placement.ended.v1"
PHASE_CHANGED = "stroom.trajectory.phase_changed.v1"
TRAJECTORY_ENDED = "stroom.trajectory.ended.v1"
SANCTION = "stroom.sanction.imposed.v1"

_OFFICE_OPENS = 8 * 3600
_OFFICE_HOURS = 9 * 3600 + 1800


@dataclass(frozen=True, slots=True)
class Ending:
    """How a benefit ends within the history, and who was in it by then."""

    day: date
    reason: OutflowReason
    household: Household


@dataclass(frozen=True, slots=True)
class Benefit:
    place: Place
    ref: str
    regulation: Regulation
    start_date: date
    applicant: Person
    # The partner at the start: guided by the applicant's coach, as a household is.
    partner: Person | None = None


def client(person: Person) -> dict[str, Any]:
    return {"bsn": person.bsn}


def member(person: Person, role: str) -> dict[str, Any]:
    return {"bsn": person.bsn, "role": role, "birth_date": person.birth_date.isoformat()}


class Recorder:
    """Writes true events; facts that depend on another fall at least a day after it was recorded."""

    def __init__(self, rng: Random, out: Delivery, start: date, horizon: date) -> None:
        self._rng = rng
        self._out = out
        self._start = start
        self._horizon = horizon

    def _recorded(self, fact: date) -> int:
        """When a case system records a fact: mostly that day, sometimes days later, in office hours."""
        # random() rather than randint(): this runs for every event and randint is several times slower.
        random = self._rng.random
        roll = random()
        lag = 0 if roll < 0.55 else 1 + int(random() * 3) if roll < 0.85 else 4 + int(random() * 11)
        ordinal = fact.toordinal() + lag
        weekday = (ordinal - 1) % 7
        if weekday >= 5:
            ordinal += 7 - weekday
        return ordinal * DAY + _OFFICE_OPENS + int(random() * _OFFICE_HOURS)

    def _days_after(self, at: int, low: int, high: int) -> date:
        return day_of(at) + timedelta(days=self._rng.randint(low, high))

    def _between(self, low: date, high: date) -> date:
        return low + timedelta(days=self._rng.randrange(max(1, (high - low).days)))
