"""A valid BSN in any string field other than `bsn`, in any spelling, refuses the event without echoing it."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from security.fields import StringField, example, string_fields, with_value
from stroom_contract.bsn import Pseudonymiser, bsn_spans, contains_bsn
from stroom_contract.events import EVENT_TYPES
from stroom_contract.redaction import redact
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.organisations import OrganisationsConfig

BSN = "712350780"
SPELLINGS = ["712350780", "7123.50.780", "712 350 780", "712-35-0780"]
FIELDS = string_fields()


@pytest.fixture(scope="module")
def validator(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes)


def test_the_field_list_covers_every_kind_of_field() -> None:
    names = {f.name for f in FIELDS}
    for expected in [
        "id",
        "source",
        "subject",
        "datacontenttype",
        "data.members[0].client_ref",
        "data.left[0].client_ref",
        "data.coach_ref",
        "data.employer_ref",
        "data.reason",
        "data.retracted_id",
    ]:
        assert expected in names
    assert "data.members[0].bsn" not in names


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f"{f.event_type}:{f.name}")
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_bsn_in_a_field_is_refused_and_named(
    validator: EventValidator, field: StringField, spelling: str
) -> None:
    for value in (spelling, f"ref-{spelling}/x"):
        raw = with_value(example(field.event_type), field.path, value)
        with pytest.raises(InvalidEvent) as caught:
            validator.validate(raw)
        fields = [e.field for e in caught.value.errors]
        assert field.name in fields
        assert not contains_bsn(str(caught.value))
        assert caught.value.event_id is None or not contains_bsn(caught.value.event_id)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("shape", ["text", "object", "list", "nested"])
def test_bsn_in_an_extension_attribute_is_refused(
    validator: EventValidator, spelling: str, shape: str
) -> None:
    attribute = {
        "text": f"case {spelling}",
        "object": {"n": spelling},
        "list": [{"n": spelling}],
        "nested": {"x": {"y": [spelling]}},
    }[shape]
    raw = example("stroom.benefit.ended.v1") | {"traceparent": "00-1", "caseno": attribute}
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    assert [e.field for e in caught.value.errors] == ["caseno"]
    assert not contains_bsn(str(caught.value))


def test_bsn_as_a_number_or_an_attribute_name_is_refused(validator: EventValidator) -> None:
    base = example("stroom.benefit.ended.v1")
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(base | {"caseno": int(BSN)})
    assert [e.field for e in caught.value.errors] == ["caseno"]
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(base | {f"x{BSN}": "1"})
    assert [e.field for e in caught.value.errors] == ["event"]
    assert BSN not in str(caught.value)


def test_harmless_extensions_are_accepted(validator: EventValidator) -> None:
    raw = example("stroom.benefit.ended.v1") | {"traceparent": "00-4bf92f3577b34da6-00", "sequence": "42"}
    assert validator.validate(raw).id == raw["id"]


@pytest.mark.parametrize(
    "bad", ["c-1", "ps_" + "A" * 32, "ps_" + "a" * 31, "ps_" + "a" * 33, " ps_" + "a" * 32]
)
def test_client_ref_must_have_the_pseudonym_shape(validator: EventValidator, bad: str) -> None:
    raw = with_value(example("stroom.client.coach_assigned.v1"), ("data", "client", "client_ref"), bad)
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    assert {e.field: e.message for e in caught.value.errors}["data.client.client_ref"].startswith(
        "moet een client_ref van Stroom zijn"
    )


def test_an_issued_pseudonym_is_accepted(validator: EventValidator, pseudonymiser: Pseudonymiser) -> None:
    ref = pseudonymiser.client_ref(BSN)
    raw = with_value(example("stroom.client.coach_assigned.v1"), ("data", "client", "client_ref"), ref)
    assert validator.validate(raw).to_wire()["data"]["client"] == {"client_ref": ref}


@pytest.mark.parametrize(
    "text",
    [
        "550e8400-e29b-41d4-a716-446655440000",
        "evt-123456789",  # nine digits that fail the 11-check
        "ord-12345678",
        "GM0420-0000404",
        "2024-01-01T00:00:00Z",
        "1712350780",  # a longer number that holds a BSN's digits is no BSN
        "GM0489-e66f73-0000606",  # 73-0000606: nine digits, but not grouped as a BSN is written
        "UITK-2024-0012345",
        "ps_a712350780bcdef0123456789abcdef0",  # Stroom's own pseudonym, hex digits by chance
    ],
)
def test_what_fails_the_11_check_is_left_alone(text: str) -> None:
    assert not contains_bsn(text)
    assert redact(text) == text


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_redaction_masks_each_spelling(spelling: str) -> None:
    assert (
        redact(f"id a{spelling}b and {spelling}") == f"id a{'*' * len(spelling)}b and {'*' * len(spelling)}"
    )
    assert list(bsn_spans(f"x{spelling}")) == [(1, 1 + len(spelling))]


def test_overlapping_candidates_are_each_checked() -> None:
    # The first window (111 222 334) fails the check; the BSN starts inside the candidates after it.
    text = "111 222 334 712 350 780"
    assert contains_bsn(text)
    assert "712" not in redact(text).split("334")[-1]


def test_a_bsn_beside_a_pseudonym_is_still_found() -> None:
    assert contains_bsn("ps_a712350780bcdef0123456789abcdef0 712350780")
    assert contains_bsn("a712350780bcdef0123456789abcdef0")
    assert contains_bsn("7123.50-780")


# 012345672 passes the 11-check; spreadsheets and forms drop the leading zero.
EIGHT_DIGITS = "12345672"


@pytest.mark.parametrize(
    ("event_type", "path", "value", "field"),
    [
        ("stroom.benefit.started.v1", ("data", "notitie"), f"klant {BSN}", "data.notitie"),
        ("stroom.benefit.started.v1", ("data", "notitie"), EIGHT_DIGITS, "data.notitie"),
        ("stroom.benefit.started.v1", ("data", "dossier"), {"nummer": int(BSN)}, "data.dossier"),
        (
            "stroom.benefit.started.v1",
            ("data", "members", 0, "opmerking"),
            [BSN],
            "data.members[0].opmerking",
        ),
        ("stroom.client.coach_assigned.v1", ("data", "client", "naam"), "7123.50.780", "data.client.naam"),
        ("stroom.benefit.started.v1", ("data", f"bsn_{BSN}"), "1", "data"),
    ],
)
def test_a_bsn_in_a_data_field_outside_the_contract_is_refused(
    validator: EventValidator, event_type: str, path: tuple[str | int, ...], value: object, field: str
) -> None:
    raw = with_value(example(event_type), path, value)
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    assert [e.field for e in caught.value.errors] == [field]
    assert not contains_bsn(str(caught.value))
    assert caught.value.event_id == raw["id"]


def test_a_bsn_outside_the_contract_in_a_later_list_item_is_refused(validator: EventValidator) -> None:
    # Every item of a list of objects is looked at, not only the first: here a member added last.
    raw = example("stroom.benefit.started.v1")
    last = len(raw["data"]["members"])
    added = {**raw["data"]["members"][0], "opmerking": f"klant {BSN}"}
    raw = with_value(raw, ("data", "members", last), added)
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    assert [e.field for e in caught.value.errors] == [f"data.members[{last}].opmerking"]
    assert not contains_bsn(str(caught.value))


def test_a_harmless_field_outside_the_contract_is_dropped(validator: EventValidator) -> None:
    raw = with_value(example("stroom.benefit.started.v1"), ("data", "notitie"), "dossier UITK-12345672")
    raw = with_value(raw, ("data", "members", 0, "volgnummer"), 2)
    wire = validator.validate(raw).to_wire()
    assert "notitie" not in wire["data"]
    assert "volgnummer" not in wire["data"]["members"][0]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_is_typed_alike_with_and_without_harmless_fields_outside_the_contract(
    validator: EventValidator, event_type: str
) -> None:
    # An event without such fields is decided by one validation that refuses them, one with them
    # field by field: both ways make the same event of the same classes.
    raw = example(event_type)
    extended = with_value(with_value(raw, ("extensie",), "x"), ("data", "notitie"), 7)
    plain, dropped = validator.validate(raw), validator.validate(extended)
    assert (type(plain), type(plain.data)) == (type(dropped), type(dropped.data))
    assert plain == dropped
    assert plain.model_fields_set == dropped.model_fields_set
    assert plain.data.model_fields_set == dropped.data.model_fields_set
    assert plain.to_wire() == dropped.to_wire()


@pytest.mark.parametrize(
    "text", [EIGHT_DIGITS, f"bsn {EIGHT_DIGITS}.", f"({EIGHT_DIGITS})", f"klant:{EIGHT_DIGITS}"]
)
def test_eight_digits_on_their_own_that_pass_with_a_leading_zero_are_a_bsn(text: str) -> None:
    assert contains_bsn(text)
    assert EIGHT_DIGITS not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        f"UITK-{EIGHT_DIGITS}",  # dash-joined ids and refs: one in eleven would pass by chance
        f"{EIGHT_DIGITS}-0001",
        f"a{EIGHT_DIGITS}",
        f"{EIGHT_DIGITS}_x",
        f"1.{EIGHT_DIGITS}e+08",  # a metric's float
        f"{EIGHT_DIGITS}-e29b-41d4-a716-446655440000",  # a UUID's first group
        "12345678",  # fails the check with the zero put back
    ],
)
def test_eight_digits_inside_an_id_or_number_are_left_alone(text: str) -> None:
    assert not contains_bsn(text)
    assert redact(text) == text


@given(st.uuids())
def test_the_eight_digit_rule_never_fires_inside_a_uuid(value: uuid.UUID) -> None:
    # Only the nine-digit rule can find something in a UUID (about 1 in 400 by chance), also
    # across its dashes, as in "47-3108-781".
    text = str(value)
    assert all(sum(c.isdigit() for c in text[start:end]) == 9 for start, end in bsn_spans(text))


def test_the_nine_digit_rule_finds_a_number_split_by_a_uuid_s_dashes() -> None:
    text = "b5e8480a-d3dd-6a47-3108-781d1e644773"
    assert [text[start:end] for start, end in bsn_spans(text)] == ["47-3108-781"]
