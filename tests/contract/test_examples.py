"""The stored example payloads: every type has a valid one, and the invalid ones are refused precisely."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import EVENT_TYPES
from stroom_contract.schema import event_schema
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.organisations import OrganisationsConfig

EXAMPLES = Path(__file__).parent / "examples"
VALID = sorted(EXAMPLES.glob("*.json"))
INVALID = sorted(p for p in (EXAMPLES / "invalid").glob("*.json") if not p.name.endswith(".expected.json"))
_DIGIT_RUN = re.compile(r"\d{8,9}")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def bsns_in(raw: Any) -> set[str]:
    if isinstance(raw, dict):
        found = {raw["bsn"]} if isinstance(raw.get("bsn"), str) else set()
        return found.union(*(bsns_in(value) for value in raw.values()))
    if isinstance(raw, list):
        return set().union(*(bsns_in(item) for item in raw))
    return set()


@pytest.fixture(scope="module")
def validator(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes)


def test_every_event_type_has_a_valid_example() -> None:
    assert {load(path)["type"] for path in VALID} == set(EVENT_TYPES)


def test_the_examples_show_both_ways_to_name_a_client() -> None:
    examples = [json.dumps(load(path)) for path in VALID]
    assert any('"client_ref"' in text for text in examples)
    assert any('"bsn"' in text for text in examples)


def test_each_example_file_is_named_after_its_type() -> None:
    for path in VALID:
        assert path.name.startswith(load(path)["type"] + "."), path.name


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_is_accepted_and_pseudonymised(validator: EventValidator, path: Path) -> None:
    raw = load(path)
    wire = validator.validate(raw).to_wire()
    assert wire["type"] == raw["type"]
    assert wire["id"] == raw["id"]
    text = json.dumps(wire)
    assert '"bsn"' not in text
    for bsn in bsns_in(raw):
        assert bsn not in text


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_matches_the_published_json_schema(path: Path) -> None:
    raw = load(path)
    schema_validator = Draft202012Validator(
        event_schema(raw["type"]), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema_validator.iter_errors(raw)]
    assert errors == []


def test_the_published_schemas_refuse_what_the_models_refuse_structurally() -> None:
    raw = load(EXAMPLES / "stroom.client.coach_assigned.v1.json")
    schema_validator = Draft202012Validator(event_schema(raw["type"]))
    both = raw | {"data": raw["data"] | {"client": {"bsn": "999990019", "client_ref": "ps_" + "0" * 32}}}
    neither = raw | {"data": raw["data"] | {"client": {}}}
    bad_municipality = load(EXAMPLES / "stroom.placement.started.v1.json")
    bad_municipality["data"]["municipality"] = "Hoorn"
    assert not schema_validator.is_valid(both)
    assert not schema_validator.is_valid(neither)
    assert not Draft202012Validator(event_schema(bad_municipality["type"])).is_valid(bad_municipality)


def test_every_invalid_example_has_its_expectation() -> None:
    sidecars = sorted((EXAMPLES / "invalid").glob("*.expected.json"))
    assert INVALID
    assert [p.name.removesuffix(".expected.json") for p in sidecars] == [p.stem for p in INVALID]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_is_refused_naming_the_field(validator: EventValidator, path: Path) -> None:
    raw = load(path)
    expected = load(path.with_name(path.stem + ".expected.json"))
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    messages = {error.field: error.message for error in caught.value.errors}
    assert expected["field"] in messages, messages
    assert expected["message_contains"] in messages[expected["field"]]
    assert caught.value.event_id == raw.get("id")
    assert not _DIGIT_RUN.search(str(caught.value))
