"""A person's point facts (assessment, coach, progress report, plan, sanction) from their events."""

from __future__ import annotations

from datetime import date
from typing import get_args

from stroom_caseload.domain.events import Event
from stroom_contract.events import (
    EVENT_TYPES,
    Client,
    ClientAssessedData,
    CoachAssignedData,
    EventData,
    PlanSentData,
    ProgressReportRecordedData,
    SanctionImposedData,
    trusted_data,
)
from stroom_contract.facts import (
    Assessment,
    ClientFact,
    CoachAssignment,
    PlanSent,
    ProgressReport,
    Sanction,
)

# The event data of a person's point fact, one event each.
PointData = (
    ClientAssessedData | CoachAssignedData | ProgressReportRecordedData | PlanSentData | SanctionImposedData
)

CLIENT_EVENT_TYPES = frozenset(
    name
    for name, envelope in EVENT_TYPES.items()
    if envelope.model_fields["data"].annotation in get_args(PointData)
)


def client_point(event: Event) -> tuple[str, ClientFact]:
    """The person (their `client_ref`) a point fact's event is about, and the fact."""
    return point_of(event.type, trusted_data(event.type, event.data))


def point_of(event_type: str, data: EventData) -> tuple[str, ClientFact]:
    """`client_point` of an event's typed data, as validation gives it: of its type's own class."""
    fact: ClientFact
    # The fields read from the model's own dict: an attribute of a pydantic model is looked up
    # past its `__getattr__` hook, twice the cost of a dict's item, for every field of every event.
    fields = data.__dict__
    kind = type(data)
    # Progress reports first, most of a person's point facts. Each case tests the exact class,
    # as validation makes it (the contract's data models have no subclasses).
    if kind is ProgressReportRecordedData:
        fact = ProgressReport(
            recorded_on=fields["recorded_on"], long_trajectory=bool(fields["long_trajectory"])
        )
    elif kind is ClientAssessedData:
        fact = Assessment(
            assessed_on=fields["assessed_on"],
            ladder_step=fields["ladder_step"],
            target_step=fields["target_step"],
            client_stream=fields["client_stream"],
            work_obligation_exempt=fields["work_obligation_exempt"],
        )
    elif kind is CoachAssignedData:
        fact = CoachAssignment(coach_ref=fields["coach_ref"], assigned_on=fields["assigned_on"])
    elif kind is PlanSentData:
        fact = PlanSent(
            plan_ref=fields["plan_ref"], sent_on=fields["sent_on"], application_ref=fields["application_ref"]
        )
    elif kind is SanctionImposedData:
        fact = Sanction(
            kind=fields["kind"], imposed_on=fields["imposed_on"], benefit_ref=fields["benefit_ref"]
        )
    else:
        raise TypeError(f"{event_type} is geen gebeurtenis van een feit over een persoon")
    return pseudonym(fields["client"]), fact


def pseudonym(client: Client) -> str:
    """`client.ref`: the pseudonym as validation set it, which validation guarantees is there."""
    # Read from the model's dict: the property is a Python call that reads the field past the
    # model's `__getattr__` hook, some 600 instructions, for every person of every event folded.
    ref: str = client.__dict__["client_ref"]
    return ref


def effective_date(fact: ClientFact) -> date:
    """The date the fact takes effect on, whatever its kind calls it."""
    # Progress reports first: most of a person's point facts.
    match fact:
        case ProgressReport():
            return fact.recorded_on
        case Assessment():
            return fact.assessed_on
        case CoachAssignment():
            return fact.assigned_on
        case PlanSent():
            return fact.sent_on
        case Sanction():
            return fact.imposed_on
