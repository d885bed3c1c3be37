"""Caseload facts (topic `stroom.caseload.facts.v1`): what reporting materialises from.

Two kinds of record. The topic is compacted, so each key's newest record must be all there is
to know about it:

* `EntityHistory` for benefits, placements, applications and trajectories: the entity's
  whole known history as versions over *recorded time* (the events' `time`). Version k
  holds the state folded from every event with `time <= recorded_from` that was not
  retracted by then; `state` is None while the entity does not exist (its `started` not
  received yet, or retracted). Kafka key: `entity`. A newer `revision` replaces everything
  before it, so redelivery and reordering of facts are harmless: keep the highest revision.
* `ClientRecord` for a person's point facts (assessment, coach assignment, progress
  report, plan, sanction): one record per source event, Kafka key `entity|record_id`,
  `retracted_at` set once a retraction of it is known. Visible `as_of` T when
  `recorded_at <= T` and not retracted at or before T. The same `record_id` may arrive
  again; the highest `revision` wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, with_config

from stroom_contract.codes import (
    ClientStream,
    Decision,
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
    Role,
    SanctionKind,
    TrajectoryOutcome,
    TrajectoryPhase,
)


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_FORBID = ConfigDict(extra="forbid", revalidate_instances="always")


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSpell:
    """A person's membership of a benefit unit: joined_on inclusive, left_on exclusive."""

    client_ref: str
    role: Role
    birth_date: date
    joined_on: date
    left_on: date | None = None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class BenefitState:
    municipality: str
    regulation: Regulation
    start_date: date
    end_date: date | None = None
    inflow_reason: InflowReason
    outflow_reason: OutflowReason | None = None
    application_ref: str | None = None
    members: Sequence[MemberSpell]


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementState:
    client_ref: str
    municipality: str
    kind: PlacementKind
    start_date: date
    end_date: date | None = None
    hours_per_week: float | None = None
    employer_ref: str | None = None
    end_reason: str | None = None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationState:
    client_ref: str
    municipality: str
    regulation: Regulation
    received_on: date
    decision: Decision | None = None
    decided_on: date | None = None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSpell:
    phase: TrajectoryPhase
    effective_date: date


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class TrajectoryState:
    client_ref: str
    municipality: str
    phases: Sequence[PhaseSpell]
    end_date: date | None = None
    outcome: TrajectoryOutcome | None = None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True)
class BenefitVersion:
    recorded_from: datetime
    state: BenefitState | None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True)
class PlacementVersion:
    recorded_from: datetime
    state: PlacementState | None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True)
class ApplicationVersion:
    recorded_from: datetime
    state: ApplicationState | None


@with_config(_FORBID)
@dataclass(frozen=True, slots=True)
class TrajectoryVersion:
    recorded_from: datetime
    state: TrajectoryState | None


EntityState = BenefitState | PlacementState | ApplicationState | TrajectoryState
Version = BenefitVersion | PlacementVersion | ApplicationVersion | TrajectoryVersion


class BenefitHistory(_Fact):
    kind: Literal["benefit"] = "benefit"
    entity: str
    revision: int
    versions: list[BenefitVersion]


class PlacementHistory(_Fact):
    kind: Literal["placement"] = "placement"
    entity: str
    revision: int
    versions: list[PlacementVersion]


class ApplicationHistory(_Fact):
    kind: Literal["application"] = "application"
    entity: str
    revision: int
    versions: list[ApplicationVersion]


class TrajectoryHistory(_Fact):
    kind: Literal["trajectory"] = "trajectory"
    entity: str
    revision: int
    versions: list[TrajectoryVersion]


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    assessed_on: date
    ladder_step: int
    target_step: int | None = None
    client_stream: ClientStream
    work_obligation_exempt: bool
    type: Literal["assessment"] = "assessment"


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class CoachAssignment:
    coach_ref: str
    assigned_on: date
    type: Literal["coach_assignment"] = "coach_assignment"


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressReport:
    recorded_on: date
    long_trajectory: bool = False
    type: Literal["progress_report"] = "progress_report"


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSent:
    plan_ref: str
    sent_on: date
    application_ref: str | None = None
    type: Literal["plan"] = "plan"


@with_config(_FORBID)
@dataclass(frozen=True, slots=True, kw_only=True)
class Sanction:
    kind: SanctionKind
    imposed_on: date
    benefit_ref: str | None = None
    type: Literal["sanction"] = "sanction"


ClientFact = Annotated[
    Assessment | CoachAssignment | ProgressReport | PlanSent | Sanction,
    Field(discriminator="type"),
]


class ClientRecord(_Fact):
    kind: Literal["client"] = "client"
    entity: str  # "client:<client_ref>"
    record_id: str  # "<source>|<event id>"
    client_ref: str
    revision: int
    recorded_at: datetime
    retracted_at: datetime | None = None
    fact: ClientFact


Fact = Annotated[
    BenefitHistory | PlacementHistory | ApplicationHistory | TrajectoryHistory | ClientRecord,
    Field(discriminator="kind"),
]
