"""The facts records caseload writes are the contract's records, field for field and in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from stroom_caseload.domain.publication import client_record, record_id
from stroom_contract.facts import ClientRecord, ProgressReport


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
