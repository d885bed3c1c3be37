"""Entity states and client facts as plain frozen data; field names match `stroom_contract.facts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class MemberSpell:
    client_ref: str
    role: str
    birth_date: date
    joined_on: date
    left_on: date | None = None


@dataclass(frozen=True, slots=True)
class BenefitState:
    municipality: str
    regulation: str
    start_date: date
    end_date: date | None
    inflow_reason: str
    outflow_reason: str | None
    application_ref: str | None
    members: tuple[MemberSpell, ...]


@dataclass(frozen=True, slots=True)
class PlacementState:
    client_ref: str
    municipality: str
    kind: str
    start_date: date
    end_date: date | None
    hours_per_week: float | None
    employer_ref: str | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class ApplicationState:
    client_ref: str
    municipality: str
    regulation: str
    received_on: date
    decision: str | None
    decided_on: date | None


@dataclass(frozen=True, slots=True)
class PhaseSpell:
    phase: str
    effective_date: date


@dataclass(frozen=True, slots=True)
class TrajectoryState:
    client_ref: str
    municipality: str
    phases: tuple[PhaseSpell, ...]
    end_date: date | None
    outcome: str | None


EntityState = BenefitState | PlacementState | ApplicationState | TrajectoryState


@dataclass(frozen=True, slots=True)
class Version:
    recorded_from: datetime
    state: EntityState | None


@dataclass(frozen=True, slots=True)
class Assessment:
    assessed_on: date
    ladder_step: int
    target_step: int | None
    client_stream: str
    work_obligation_exempt: bool
    type: str = "assessment"


@dataclass(frozen=True, slots=True)
class CoachAssignment:
    coach_ref: str
    assigned_on: date
    type: str = "coach_assignment"


@dataclass(frozen=True, slots=True)
class ProgressReport:
    recorded_on: date
    long_trajectory: bool
    type: str = "progress_report"


@dataclass(frozen=True, slots=True)
class PlanSent:
    plan_ref: str
    sent_on: date
    application_ref: str | None
    type: str = "plan"


@dataclass(frozen=True, slots=True)
class Sanction:
    kind: str
    imposed_on: date
    benefit_ref: str | None
    type: str = "sanction"


ClientFact = Assessment | CoachAssignment | ProgressReport | PlanSent | Sanction
