"""The event types of events-v1 as pydantic models: one envelope per `type`, its `data` typed."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stroom_contract.bsn import Pseudonymiser, is_valid_bsn
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
from stroom_contract.types import (
    ClientRef,
    EventSequence,
    IsoDate,
    JSONObject,
    Municipality,
    Ref,
    Rfc3339,
    Source,
    Step,
    Text,
    parse_date,
)


class EventData(BaseModel):
    # Unknown fields are dropped, never stored: a stray field could carry a raw BSN.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Client(EventData):
    """Een persoon: een `bsn` alleen bij intake, daar vervangen door zijn pseudoniem `client_ref`."""

    model_config = ConfigDict(
        # What `_one_identity` enforces, stated for readers of the JSON Schema.
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("bsn", "client_ref")
            ]
        }
    )

    bsn: StrictStr | None = Field(default=None, json_schema_extra={"pattern": "^[0-9]{9}$"})
    client_ref: ClientRef | None = None

    @field_validator("bsn")
    @classmethod
    def _pseudonymise(cls, value: str | None, info: ValidationInfo) -> str | None:
        # The field briefly carries the pseudonym so that errors point at `bsn`;
        # the model validator below moves it to `client_ref`.
        if value is None:
            return None
        if not is_valid_bsn(value):
            raise ValueError("voldoet niet aan de elfproef")
        pseudonymiser: Pseudonymiser | None = (info.context or {}).get("pseudonymiser")
        if pseudonymiser is None:
            raise ValueError("een BSN wordt alleen bij intake aangenomen")
        return pseudonymiser.client_ref(value)

    @model_validator(mode="after")
    def _one_identity(self) -> Self:
        if (self.bsn is None) == (self.client_ref is None):
            raise ValueError("geef precies één van bsn en client_ref")
        if self.bsn is not None:
            object.__setattr__(self, "client_ref", self.bsn)
            object.__setattr__(self, "bsn", None)
        return self

    @property
    def ref(self) -> str:
        assert self.client_ref is not None  # guaranteed by the validator
        return self.client_ref


class Member(Client):
    role: Role
    birth_date: IsoDate


class ApplicationReceivedData(EventData):
    application_ref: Ref
    client: Client
    municipality: Municipality
    regulation: Regulation
    received_on: IsoDate


class ApplicationDecidedData(EventData):
    application_ref: Ref
    decision: Decision
    decided_on: IsoDate


class BenefitStartedData(EventData):
    benefit_ref: Ref
    municipality: Municipality
    regulation: Regulation
    start_date: IsoDate
    inflow_reason: InflowReason
    members: Annotated[list[Member], Field(min_length=1)]
    application_ref: Ref | None = None


class BenefitMembersChangedData(EventData):
    benefit_ref: Ref
    effective_date: IsoDate
    joined: list[Member] = Field(default_factory=list)
    left: list[Client] = Field(default_factory=list)


class BenefitEndedData(EventData):
    benefit_ref: Ref
    end_date: IsoDate
    outflow_reason: OutflowReason


class ClientAssessedData(EventData):
    client: Client
    assessed_on: IsoDate
    ladder_step: Step
    target_step: Step | None = None
    client_stream: ClientStream
    work_obligation_exempt: StrictBool


class CoachAssignedData(EventData):
    client: Client
    coach_ref: Ref
    assigned_on: IsoDate


class PlanSentData(EventData):
    plan_ref: Ref
    client: Client
    sent_on: IsoDate
    application_ref: Ref | None = None


class ProgressReportRecordedData(EventData):
    client: Client
    recorded_on: IsoDate
    long_trajectory: StrictBool | None = None


class PlacementStartedData(EventData):
    placement_ref: Ref
    client: Client
    municipality: Municipality
    kind: PlacementKind
    start_date: IsoDate
    hours_per_week: Annotated[float, Field(strict=True, ge=0, le=80)] | None = None
    employer_ref: Ref | None = None


class PlacementEndedData(EventData):
    placement_ref: Ref
    end_date: IsoDate
    reason: Text | None = None


class TrajectoryPhaseChangedData(EventData):
    trajectory_ref: Ref
    client: Client
    municipality: Municipality
    phase: TrajectoryPhase
    effective_date: IsoDate


class TrajectoryEndedData(EventData):
    trajectory_ref: Ref
    end_date: IsoDate
    outcome: TrajectoryOutcome


class SanctionImposedData(EventData):
    client: Client
    kind: SanctionKind
    imposed_on: IsoDate
    benefit_ref: Ref | None = None


class EventRetractedData(EventData):
    retracted_id: Ref
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes shared by every event type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"]
    id: Ref
    source: Source
    type: str
    # When the source system recorded the fact; the real-world dates are in `data`.
    time: Rfc3339
    subject: Text | None = None
    sequence: EventSequence | None = None
    datacontenttype: Text | None = None
    data: EventData

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _event(type_name: str, data_model: type[BaseModel], doc: str) -> type[Envelope]:
    return type(
        data_model.__name__.removesuffix("Data"),
        (Envelope,),
        {
            "__annotations__": {"type": Literal[type_name], "data": data_model},
            "__doc__": doc,
            "__module__": __name__,
        },
    )


# The one type whose events are about another event, not about an entity or a person.
RETRACTED = "stroom.event.retracted.v1"

_CATALOGUE: list[tuple[str, type[EventData], str]] = [
    (
        "stroom.application.received.v1",
        ApplicationReceivedData,
        "Een aanvraag of melding voor een uitkering is ontvangen.",
    ),
    (
        "stroom.application.decided.v1",
        ApplicationDecidedData,
        "Op een aanvraag is besloten: toegekend, afgewezen of ingetrokken.",
    ),
    (
        "stroom.benefit.started.v1",
        BenefitStartedData,
        "Een uitkering is gestart (instroom), met haar gezinsleden.",
    ),
    (
        "stroom.benefit.members_changed.v1",
        BenefitMembersChangedData,
        "Gezinsleden zijn bij een leefeenheid gekomen of eruit vertrokken.",
    ),
    ("stroom.benefit.ended.v1", BenefitEndedData, "Een uitkering is beëindigd (uitstroom)."),
    (
        "stroom.client.assessed.v1",
        ClientAssessedData,
        "Een klant is beoordeeld op de participatieladder.",
    ),
    (
        "stroom.client.coach_assigned.v1",
        CoachAssignedData,
        "Een klant heeft een klantmanager toegewezen gekregen.",
    ),
    ("stroom.plan.sent.v1", PlanSentData, "Een klant is een Plan naar Werk gestuurd."),
    (
        "stroom.progress_report.recorded.v1",
        ProgressReportRecordedData,
        "Een voortgangsrapportage is vastgelegd.",
    ),
    ("stroom.placement.started.v1", PlacementStartedData, "Een klant is aan het werk geplaatst."),
    ("stroom.placement.ended.v1", PlacementEndedData, "Een plaatsing is beëindigd."),
    (
        "stroom.trajectory.phase_changed.v1",
        TrajectoryPhaseChangedData,
        "Een traject is een fase ingegaan.",
    ),
    ("stroom.trajectory.ended.v1", TrajectoryEndedData, "Een traject is beëindigd."),
    ("stroom.sanction.imposed.v1", SanctionImposedData, "Een maatregel of boete is opgelegd."),
    (
        RETRACTED,
        EventRetractedData,
        "Een eerder event van dezelfde source is ingetrokken: het telt alsof het nooit ontvangen is.",
    ),
]

EVENT_TYPES: dict[str, type[Envelope]] = {name: _event(name, model, doc) for name, model, doc in _CATALOGUE}

# The union is built from the registry so that adding a type is one line above.
EVENT_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(
    Annotated[Union[tuple(EVENT_TYPES.values())], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007
)

Convert = Callable[[Any], Any]


def _converter(annotation: Any) -> Convert | None:
    """How a validated wire value becomes the field's value; None where it already is."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        (inner,) = (a for a in get_args(annotation) if a is not type(None))
        convert = _converter(inner)
        return None if convert is None else lambda v: None if v is None else convert(v)
    if origin is list:
        item = _converter(get_args(annotation)[0])
        return None if item is None else lambda v: [item(x) for x in v]
    if isinstance(annotation, type) and issubclass(annotation, EventData):
        return _trusted(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation._value2member_map_.__getitem__
    if annotation is date:
        return parse_date
    return None


def _trusted(model: type[EventData]) -> Callable[[Mapping[str, Any]], EventData]:
    """A function building `model` from validated data, written out per field (as dataclasses
    write their __init__): a loop over the fields cost as much as the validation it replaces."""
    scope: dict[str, Any] = {"model": model, "names": frozenset(model.model_fields), "new": object.__new__}
    # Each of BaseModel's slots set through its own descriptor: `object.__setattr__` looks the
    # name up every time.
    for slot in BaseModel.__slots__:
        scope[f"set{slot}"] = vars(BaseModel)[slot].__set__
    items = []
    for i, (name, info) in enumerate(model.model_fields.items()):
        convert = _converter(info.annotation)
        # A default (an empty `joined`) is one object shared by every instance built: the models
        # are frozen, and nothing that reads them changes a list in place.
        scope[f"c{i}"], scope[f"d{i}"] = convert, info.get_default(call_default_factory=True)
        value = f"d[{name!r}]" if info.is_required() else f"d.get({name!r}, d{i})"
        if convert is not None:
            value = f"c{i}({value})" if info.is_required() else f"None if (v := {value}) is None else c{i}(v)"
        items.append(f"{name!r}: {value}")
    # What model_construct sets, without its per-field lookups.
    source = (
        "def build(d):\n"
        "    instance = new(model)\n"
        f"    set__dict__(instance, {{{', '.join(items)}}})\n"
        "    set__pydantic_fields_set__(instance, names)\n"
        "    set__pydantic_extra__(instance, None)\n"
        "    set__pydantic_private__(instance, None)\n"
        "    return instance\n"
    )
    exec(source, scope)  # noqa: S102  # the source is built above from the contract's own fields
    build: Callable[[Mapping[str, Any]], EventData] = scope["build"]
    return build


_TRUSTED = {name: _trusted(model) for name, model, _ in _CATALOGUE}


def trusted_data(type_name: str, data: JSONObject) -> EventData:
    """The typed `data` of an event of `type_name` that was validated before (caseload's ledger
    holds only validated events), built without validating again: a fold reads an entity's whole
    history at every batch, and validating each event costs more than half the fold. Equal to what
    validation gives for the same data; a value outside the contract is an error or kept as is."""
    return _TRUSTED[type_name](data)
