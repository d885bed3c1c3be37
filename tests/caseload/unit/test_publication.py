"""The facts records caseload writes are the contract's records, field for field and in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from stroom_caseload.domain.publication import client_record, record_id
from stroom_contract.codes import ClientStream, SanctionKind
from stroom_contract.facts import (
    Assessment,
    ClientFact,
    ClientRecord,
    CoachAssignment,
    PlanSent,
    ProgressReport,
    Sanction,
)


@pytest.mark.parametrize("retracted", [False, True])
def test_a_client_record_is_the_contracts_record_in_its_field_order(retracted: bool) -> None:
    recorded = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    retracted_at = recorded + timedelta(days=2) if retracted else None
    fact = ProgressReport(recorded_on=date(2024, 3, 1), long_trajectory=True)
    key, value = client_record(record_id("intake", "e1"), "c-1", 3, recorded, retracted_at, fact)
    assert key == "client:c-1|intake|e1"
    assert ClientRecord.model_validate_json(value) == ClientRecord(
        entity="client:c-1",
        record_id="intake|e1",
        client_ref="c-1",
        revision=3,
        recorded_at=recorded,
        retracted_at=retracted_at,
        fact=fact,
    )
    assert list(orjson.loads(value)) == list(ClientRecord.model_fields)


@pytest.mark.parametrize(
    "fact",
    [
        Assessment(
            assessed_on=date(2024, 3, 1),
            ladder_step=2,
            target_step=4,
            client_stream=ClientStream.DEVELOPABLE,
            work_obligation_exempt=True,
        ),
        Assessment(
            assessed_on=date(2024, 3, 1),
            ladder_step=1,
            client_stream=ClientStream.CARE,
            work_obligation_exempt=False,
        ),
        CoachAssignment(coach_ref="klantmanager-1", assigned_on=date(2024, 3, 2)),
        ProgressReport(recorded_on=date(2024, 3, 3)),
        PlanSent(plan_ref="plan-1", sent_on=date(2024, 3, 4), application_ref="aanvraag-1"),
        PlanSent(plan_ref="plan-2", sent_on=date(2024, 3, 4)),
        Sanction(kind=SanctionKind.FINE, imposed_on=date(2024, 3, 5), benefit_ref="uitkering-1"),
    ],
)
def test_every_kind_of_fact_is_written_as_orjson_writes_its_dataclass(fact: ClientFact) -> None:
    recorded = datetime(2024, 3, 6, 9, tzinfo=UTC)
    _, value = client_record(record_id("intake", "e1"), "c-1", 1, recorded, None, fact)
    # The fact's JSON object, byte for byte, and read back as the contract's fact.
    assert value.endswith(b'"fact":' + orjson.dumps(fact) + b"}")
    assert ClientRecord.model_validate_json(value).fact == fact
