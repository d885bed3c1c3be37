"""Feiten van caseload (topic `stroom.caseload.facts.v2`): waaruit reporting materialiseert.

Het topic bewaart elk record (een wijzigingslog, niet gecompacteerd). Er zijn twee soorten records:

* Een wijziging van een uitkering, plaatsing, aanvraag of traject (`BenefitChange`, …): één per
  verwerkte batch die de entiteit veranderde, met Kafka-sleutel `entity`, zodat de wijzigingen
  van een entiteit een partitie delen en op volgorde blijven. Ze draagt de rijen van de entiteit
  (`stroom_contract.rows`: wat geteld wordt, elke rijversie geldig over een periode van
  vastleggingstijd) die veranderden: `rows` de rijversies die erbij kwamen of waarvan
  `recorded_to` verschoof, `removed` de rijversies die vervielen (een laat event of een
  intrekking vouwt opnieuw vanaf een eerder moment). Ze geldt bovenop revisie `base` van de rijen
  van de entiteit; `base` null is een volledige wijziging, de hele geschiedenis van de entiteit,
  die elke rij vervangt die ze had. Een consumer past een wijziging toe zodra hij revisie `base`
  heeft (of, bij een volledige wijziging, een lagere revisie), negeert een wijziging op of onder
  de revisie die hij heeft (een herbezorging) en bewaart een wijziging waarvan hij de base nog
  niet heeft tot die binnenkomt. Caseload stuurt opnieuw een volledige wijziging als een event
  opnieuw binnenkomt en bij een herbouw; zo herstelt een wijziging die onderweg verloren ging.
* `ClientRecord` voor de momentfeiten van een persoon (beoordeling, toewijzing van een
  klantmanager, voortgangsrapportage, plan, maatregel): één record per bronevent, met
  Kafka-sleutel `entity|record_id`, en `retracted_at` gezet zodra een intrekking ervan bekend is.
  Zichtbaar `as_of` T als `recorded_at <= T` en het niet op of voor T is ingetrokken. Dezelfde
  `record_id` kan opnieuw binnenkomen; de hoogste `revision` geldt.

De standen hieronder zijn waartoe caseload de events van een entiteit vouwt; hun versies over de
vastleggingstijd geven de rijen (`stroom_contract.rows.entity_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

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
from stroom_contract.rows import ApplicationRow, CountSpell, PhaseRow, PlacementSpell, Recorded
from stroom_contract.slotted import slot_init


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_FORBID = ConfigDict(extra="forbid", revalidate_instances="always")


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSpell:
    """A person's membership of a benefit unit: joined_on inclusive, left_on exclusive."""

    client_ref: str
    role: Role
    birth_date: date
    joined_on: date
    left_on: date | None = None


@with_config(_FORBID)
@slot_init
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
@slot_init
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
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationState:
    client_ref: str
    municipality: str
    regulation: Regulation
    received_on: date
    decision: Decision | None = None
    decided_on: date | None = None


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSpell:
    phase: TrajectoryPhase
    effective_date: date


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class TrajectoryState:
    client_ref: str
    municipality: str
    phases: Sequence[PhaseSpell]
    end_date: date | None = None
    outcome: TrajectoryOutcome | None = None


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True)
class BenefitVersion:
    recorded_from: datetime
    state: BenefitState | None


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True)
class PlacementVersion:
    recorded_from: datetime
    state: PlacementState | None


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True)
class ApplicationVersion:
    recorded_from: datetime
    state: ApplicationState | None


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True)
class TrajectoryVersion:
    recorded_from: datetime
    state: TrajectoryState | None


EntityState = BenefitState | PlacementState | ApplicationState | TrajectoryState
Version = BenefitVersion | PlacementVersion | ApplicationVersion | TrajectoryVersion


class _Change(_Fact):
    entity: str
    revision: int
    # The revision this change applies on top of; None: the whole history, replacing every row.
    base: int | None = None


class BenefitChange(_Change):
    kind: Literal["benefit"] = "benefit"
    rows: list[Recorded[CountSpell]]
    removed: list[Recorded[CountSpell]] = []


class PlacementChange(_Change):
    kind: Literal["placement"] = "placement"
    rows: list[Recorded[PlacementSpell]]
    removed: list[Recorded[PlacementSpell]] = []


class ApplicationChange(_Change):
    kind: Literal["application"] = "application"
    rows: list[Recorded[ApplicationRow]]
    removed: list[Recorded[ApplicationRow]] = []


class TrajectoryChange(_Change):
    kind: Literal["trajectory"] = "trajectory"
    rows: list[Recorded[PhaseRow]]
    removed: list[Recorded[PhaseRow]] = []


EntityChange = BenefitChange | PlacementChange | ApplicationChange | TrajectoryChange


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    assessed_on: date
    ladder_step: int
    target_step: int | None = None
    client_stream: ClientStream
    work_obligation_exempt: bool
    type: Literal["assessment"] = "assessment"


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CoachAssignment:
    coach_ref: str
    assigned_on: date
    type: Literal["coach_assignment"] = "coach_assignment"


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressReport:
    recorded_on: date
    long_trajectory: bool = False
    type: Literal["progress_report"] = "progress_report"


@with_config(_FORBID)
@slot_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSent:
    plan_ref: str
    sent_on: date
    application_ref: str | None = None
    type: Literal["plan"] = "plan"


@with_config(_FORBID)
@slot_init
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
    BenefitChange | PlacementChange | ApplicationChange | TrajectoryChange | ClientRecord,
    Field(discriminator="kind"),
]


def _object_of(model: type[Any]) -> Callable[[Any], dict[str, object]]:
    """A function giving the JSON object of a fact of the dataclass `model`: its fields in their
    order, as orjson writes the dataclass itself. orjson writes a slotted dataclass on a slow
    path, some 7,000 instructions a fact, where this dict and its JSON take 3,400: caseload
    publishes every person's point fact, and reporting stores each one."""
    # A dict display of the fields, without a loop or a call per field.
    display = ", ".join(f"{spec.name!r}: fact.{spec.name}" for spec in fields(model))
    scope: dict[str, Any] = {}
    exec(f"def object_of(fact):\n    return {{{display}}}\n", scope)  # noqa: S102  # from the class's own fields
    made: Callable[[Any], dict[str, object]] = scope["object_of"]
    return made


_FACT_OBJECTS = {model: _object_of(model) for model in get_args(get_args(ClientFact)[0])}


def client_fact_object(fact: ClientFact) -> dict[str, object]:
    """A person's point fact as the JSON object orjson writes for it (see `_object_of`)."""
    return _FACT_OBJECTS[type(fact)](fact)
