"""A person's point facts (assessment, coach, progress report, plan, sanction) from their events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from stroom_contract.facts import (
    Assessment,
    ClientFact,
    CoachAssignment,
    PlanSent,
    ProgressReport,
    Sanction,
)

_FACTS: dict[str, Callable[[Mapping[str, Any]], ClientFact]] = {
    "stroom.client.assessed.v1": lambda d: Assessment(
        assessed_on=date.fromisoformat(d["assessed_on"]),
        ladder_step=d["ladder_step"],
        target_step=d.get("target_step"),
        client_stream=d["client_stream"],
        work_obligation_exempt=d["work_obligation_exempt"],
    ),
    "stroom.client.coach_assigned.v1": lambda d: CoachAssignment(
        coach_ref=d["coach_ref"], assigned_on=date.fromisoformat(d["assigned_on"])
    ),
    "stroom.progress_report.recorded.v1": lambda d: ProgressReport(
        recorded_on=date.fromisoformat(d["recorded_on"]), long_trajectory=bool(d.get("long_trajectory"))
    ),
    "stroom.plan.sent.v1": lambda d: PlanSent(
        plan_ref=d["plan_ref"],
        sent_on=date.fromisoformat(d["sent_on"]),
        application_ref=d.get("application_ref"),
    ),
    "stroom.sanction.imposed.v1": lambda d: Sanction(
        kind=d["kind"], imposed_on=date.fromisoformat(d["imposed_on"]), benefit_ref=d.get("benefit_ref")
    ),
}

CLIENT_EVENT_TYPES = frozenset(_FACTS)


def client_fact(event_type: str, data: Mapping[str, Any]) -> ClientFact:
    return _FACTS[event_type](data)


def effective_date(fact: ClientFact) -> date:
    """The date the fact takes effect on, whatever its kind calls it."""
    if isinstance(fact, Assessment):
        return fact.assessed_on
    if isinstance(fact, CoachAssignment):
        return fact.assigned_on
    if isinstance(fact, ProgressReport):
        return fact.recorded_on
    if isinstance(fact, PlanSent):
        return fact.sent_on
    return fact.imposed_on
