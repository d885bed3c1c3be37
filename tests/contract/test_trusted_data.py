"""Typed data of a stored event, built without validating again, is what validation gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import trusted_data
from stroom_contract.validation import EventValidator
from stroom_platform.organisations import OrganisationsConfig

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def validator(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_trusted_data_equals_the_validated_data(validator: EventValidator, path: Path) -> None:
    envelope = validator.validate(json.loads(path.read_text(encoding="utf-8")))
    # As the ledger keeps it: the wire form, optional fields left out when empty.
    stored = json.loads(json.dumps(envelope.to_wire()))["data"]
    built = trusted_data(envelope.type, stored)
    assert built == envelope.data
    # Equal and of the same types: dates are dates and codes are their code lists' members.
    assert repr(built) == repr(envelope.data)
    assert built.model_fields_set == set(type(built).model_fields)
    assert built.model_dump(mode="json", exclude_none=True) == stored


def test_a_stored_event_without_a_required_field_is_an_error() -> None:
    with pytest.raises(KeyError):
        trusted_data("stroom.benefit.ended.v1", {"benefit_ref": "B1", "end_date": "2024-01-01"})
