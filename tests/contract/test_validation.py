"""The contract's bad-input cases, each refused with the field named and no BSN echoed."""

from __future__ import annotations

from typing import Any

import pytest

from stroom_contract.bsn import Pseudonymiser, is_valid_bsn
from stroom_contract.types import NO_BSN_MESSAGE
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator.bsns import pseudonym

VALID_BSN = "111222333"


def started(**data_overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "benefit_ref": "B-1",
        "municipality": "GM0405",
        "regulation": "PW",
        "start_date": "2024-01-01",
        "inflow_reason": "employment_ended",
        "members": [{"bsn": VALID_BSN, "role": "applicant", "birth_date": "1980-02-29"}],
    }
    data.update(data_overrides)
    return {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "gws/hoorn",
        "type": "stroom.benefit.started.v1",
        "time": "2024-01-02T09:00:00+01:00",
        "data": data,
    }


@pytest.fixture
def validator(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes)


def refusal(validator: EventValidator, raw: Any) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    return {e.field: e.message for e in caught.value.errors}


def test_bsn_is_replaced_by_a_stable_pseudonym(validator: EventValidator) -> None:
    first = validator.validate(started()).to_wire()
    again = validator.validate(started()).to_wire()
    member = first["data"]["members"][0]
    assert "bsn" not in member
    assert member["client_ref"].startswith("ps_")
    assert member == again["data"]["members"][0]
    assert VALID_BSN not in str(first)


@pytest.mark.parametrize(
    ("raw_change", "field", "fragment"),
    [
        ({"type": "stroom.benefit.exploded.v1"}, "type", "geen bekend eventtype"),
        ({"id": None}, "id", ""),
        ({"time": "2024-13-01T00:00:00Z"}, "time", "kalender"),
        ({"time": "2024-01-01"}, "time", "RFC 3339"),
        ({"specversion": "0.3"}, "specversion", "1.0"),
        ({"data": [1, 2]}, "data", "JSON-object"),
        ({"data": "x"}, "data", "JSON-object"),
    ],
)
def test_bad_envelopes_name_the_field(
    validator: EventValidator, raw_change: dict[str, Any], field: str, fragment: str
) -> None:
    raw = started() | raw_change
    errors = refusal(validator, raw)
    assert field in errors
    assert fragment in errors[field]


@pytest.mark.parametrize("missing", ["specversion", "id", "source", "type", "time", "data"])
def test_each_missing_attribute_is_named(validator: EventValidator, missing: str) -> None:
    raw = started()
    del raw[missing]
    assert missing in refusal(validator, raw)


@pytest.mark.parametrize(
    ("data_change", "field", "fragment"),
    [
        ({"municipality": "GM9999"}, "data.municipality", "geen gemeente"),
        ({"municipality": "Hoorn"}, "data.municipality", "GMnnnn"),
        ({"regulation": "WW"}, "data.regulation", "PW"),
        ({"inflow_reason": "bored"}, "data.inflow_reason", ""),
        ({"start_date": "2023-02-29"}, "data.start_date", "kalender"),
        ({"start_date": 20240101}, "data.start_date", "ISO-datum"),
        ({"members": []}, "data.members", ""),
    ],
)
def test_bad_data_names_the_field(
    validator: EventValidator, data_change: dict[str, Any], field: str, fragment: str
) -> None:
    errors = refusal(validator, started(**data_change))
    assert field in errors
    assert fragment in errors[field]


@pytest.mark.parametrize("bad_bsn", ["111222334", "000000000", "12345678", "abcdefghi"])
def test_bsn_failing_the_elfproef_is_refused_without_echo(validator: EventValidator, bad_bsn: str) -> None:
    raw = started(members=[{"bsn": bad_bsn, "role": "applicant", "birth_date": "1980-01-01"}])
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    assert [e.field for e in caught.value.errors] == ["data.members[0].bsn"]
    assert bad_bsn not in str(caught.value)


def test_elfproef() -> None:
    assert is_valid_bsn("111222333")
    assert is_valid_bsn("123456782")
    assert not is_valid_bsn("123456789")
    assert not is_valid_bsn("000000000")


@pytest.mark.parametrize("step", [0, 7, "3", True])
def test_ladder_step_outside_one_to_six(validator: EventValidator, step: Any) -> None:
    raw = {
        "specversion": "1.0",
        "id": "a-1",
        "source": "gws/hoorn",
        "type": "stroom.client.assessed.v1",
        "time": "2024-01-02T09:00:00Z",
        "data": {
            "client": {"client_ref": pseudonym("c-1")},
            "assessed_on": "2024-01-02",
            "ladder_step": step,
            "client_stream": "mediable",
            "work_obligation_exempt": False,
        },
    }
    assert "data.ladder_step" in refusal(validator, raw)


def test_raw_bsn_is_refused_where_no_pseudonymiser_is_configured(
    organisations: OrganisationsConfig,
) -> None:
    downstream = EventValidator(None, organisations.municipality_codes)
    errors = refusal(downstream, started())
    assert errors == {"data.members[0].bsn": "een BSN wordt alleen bij intake aangenomen"}


def test_not_an_object(validator: EventValidator) -> None:
    assert refusal(validator, [1]) == {"event": "moet een JSON-object zijn"}


@pytest.mark.parametrize(
    "source",
    [
        "urn:nld:oin:00000001823288444000:systeem:BRP-component",
        "urn:nld:oin:00000001001234567000:systeem:gws.hoorn_2",
        "gws/hoorn",
        "https://civision.example/westfriesland",
    ],
)
def test_nl_gov_sources_are_accepted_besides_todays_forms(validator: EventValidator, source: str) -> None:
    assert validator.validate(started() | {"source": source}).source == source


@pytest.mark.parametrize(
    "source",
    [
        "urn:nld:oin:1823288444000:systeem:BRP",  # an OIN has 20 digits
        "urn:nld:oin:00000001823288444000:system:BRP",
        "urn:nld:oin:00000001823288444000:systeem:",
        "URN:NLD:gemeente:hoorn",
        "urn:nld:oin:00000001823288444000:systeem:BRP component",
    ],
)
def test_a_malformed_nl_gov_source_is_refused(validator: EventValidator, source: str) -> None:
    assert (
        "urn:nld:oin:<OIN van 20 cijfers>:systeem:<naam>"
        in refusal(validator, started() | {"source": source})["source"]
    )


def test_sequence_is_a_string_kept_with_the_event(validator: EventValidator) -> None:
    assert validator.validate(started() | {"sequence": "0042"}).to_wire()["sequence"] == "0042"
    assert "sequence" not in validator.validate(started()).to_wire()
    assert "sequence" in refusal(validator, started() | {"sequence": 42})
    assert "sequence" in refusal(validator, started() | {"sequence": ""})


def test_a_string_refused_once_is_refused_every_time_while_clean_ones_pass_again(
    validator: EventValidator,
) -> None:
    # Clean strings are remembered; one that held a BSN or a NUL must never be.
    for _ in range(3):
        assert refusal(validator, started(benefit_ref=f"B-{VALID_BSN}")) == {
            "data.benefit_ref": NO_BSN_MESSAGE
        }
        assert set(refusal(validator, started(benefit_ref="B-\x00"))) == {"data.benefit_ref"}
        assert validator.validate(started(benefit_ref="B-7")).data.benefit_ref == "B-7"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"id": ""}, "id", "moet minstens 1 teken bevatten"),
        ({"id": "e" * 201}, "id", "mag hoogstens 200 tekens bevatten"),
        ({"sequence": "7" * 101}, "sequence", "mag hoogstens 100 tekens bevatten"),
        # The BSN is named before the length: a long text is no way around it.
        ({"source": f"gws/{VALID_BSN}" + "x" * 300}, "source", NO_BSN_MESSAGE),
    ],
)
def test_a_ref_out_of_bounds_is_refused_after_its_content(
    validator: EventValidator, changes: dict[str, Any], field: str, message: str
) -> None:
    assert refusal(validator, {**started(), **changes}) == {field: message}
