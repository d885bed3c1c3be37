"""Entity keys: one per (kind, source, ref), never shared by two, their kind read back from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED
from stroom_contract.keys import MAX_KEY_LENGTH, entity_key, key_kind, kind_of, kind_of_key, scoped_key
from stroom_contract.retractions import retraction_key
from stroom_contract.validation import EventValidator
from stroom_platform.organisations import OrganisationsConfig


def test_a_colon_in_the_ref_does_not_make_another_sources_key() -> None:
    assert scoped_key("benefit", "urn:x", "GM0405:B1") != scoped_key("benefit", "urn:x:GM0405", "B1")
    assert scoped_key("benefit", "urn:x", "GM0405:B1") == "benefit:urn:x:GM0405%3AB1"


def test_keys_without_a_colon_or_percent_in_the_ref_are_as_before() -> None:
    assert scoped_key("placement", "gws/hoorn", "PL-9") == "placement:gws/hoorn:PL-9"


def test_a_key_too_long_for_the_columns_is_a_digest_of_its_kind() -> None:
    key = scoped_key("trajectory", "s" * 200, ":" * 200)
    assert len(key) <= MAX_KEY_LENGTH
    assert key.startswith("trajectory:#")
    assert key != scoped_key("trajectory", "s" * 200, ":" * 199)


# Mostly separators and escapes, where collisions would be; now and then anything, long ones too.
parts = st.one_of(
    st.lists(st.sampled_from([":", "%", "3A", "25", "a"]), min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=200),
)


@settings(max_examples=1000)
@given(
    first=st.tuples(st.sampled_from(["benefit", "retraction"]), parts, parts),
    second=st.tuples(st.sampled_from(["benefit", "retraction"]), parts, parts),
)
def test_different_parts_never_share_a_key(first: tuple[str, str, str], second: tuple[str, str, str]) -> None:
    assert (scoped_key(*first) == scoped_key(*second)) == (first == second)
    assert key_kind(scoped_key(*first)) == first[0]


@given(kind=st.sampled_from(["benefit", "placement", "application", "trajectory"]), source=parts, ref=parts)
def test_an_entity_keys_kind_is_that_of_its_events(kind: str, source: str, ref: str) -> None:
    assert kind_of_key(scoped_key(kind, source, ref)) == kind_of(f"stroom.{kind}.started.v1") == kind


def test_a_persons_facts_and_waiting_retractions_are_of_no_entity() -> None:
    assert kind_of("stroom.client.assessed.v1") == kind_of("stroom.plan.sent.v1") == "client"
    assert kind_of_key("client:abc") == kind_of_key(retraction_key("urn:x", "e-1")) == "client"


EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_an_events_key_names_its_entity_or_person(
    pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig, path: Path
) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    envelope = EventValidator(pseudonymiser, organisations.municipality_codes).validate(raw)
    kind = kind_of(envelope.type)
    data = envelope.to_wire()["data"]
    if envelope.type == RETRACTED:
        assert entity_key(envelope) is None
    elif kind != "client" and data.get(f"{kind}_ref"):
        assert entity_key(envelope) == scoped_key(kind, envelope.source, data[f"{kind}_ref"])
    else:
        assert entity_key(envelope) == f"client:{data['client']['client_ref']}"


@pytest.mark.parametrize("ref", ["B1", "GM0405:B1", "100%", "%3A", ":", ""])
def test_a_ref_is_escaped_only_where_it_holds_a_colon_or_percent(ref: str) -> None:
    escaped = ref.replace("%", "%25").replace(":", "%3A")
    assert scoped_key("benefit", "urn:x", ref) == f"benefit:urn:x:{escaped}"
