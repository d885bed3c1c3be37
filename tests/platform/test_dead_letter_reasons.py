"""A dead letter's reason: a stable code operators filter on, then what is wrong in Dutch, never
a BSN and never an exception's English that could quote the record."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from stroom_contract.facts import Fact
from stroom_contract.kafka_binding import Undecodable, decode_wire
from stroom_contract.messages import summary
from stroom_platform.kafka.dead_letters import Refusal

FACTS: TypeAdapter[Fact] = TypeAdapter(Fact)
BSN = "111222333"


def test_the_codes_operators_filter_on() -> None:
    assert [refusal.value for refusal in Refusal] == ["contract", "undecodable", "unappliable", "conflict"]


def test_a_reason_is_its_code_and_the_dutch_text_without_a_bsn() -> None:
    assert Refusal.CONFLICT.reason("(source, id) is al opgeslagen met andere inhoud") == (
        "conflict: (source, id) is al opgeslagen met andere inhoud"
    )
    reason = Refusal.UNAPPLIABLE.reason(f"de database weigert het event: waarde {BSN}")
    assert reason.startswith("unappliable: de database weigert het event: waarde ")
    assert BSN not in reason


@pytest.mark.parametrize(
    ("value", "headers", "why"),
    [
        (
            b"{not json",
            [("ce_id", b"x")],
            "de waarde is geen JSON: een naam moet tekst tussen dubbele aanhalingstekens zijn"
            " (regel 1, kolom 2)",
        ),
        (b"", [], "de waarde is geen JSON: de tekst is leeg (regel 1, kolom 1)"),
        (b'{"a": 1} x', [], "de waarde is geen JSON: na de JSON volgt nog tekst (regel 1, kolom 10)"),
        (b"{}", [("ce_id", b"\xff" + BSN.encode())], "de header ce_id is geen geldige UTF-8"),
    ],
)
def test_a_record_that_is_no_event_says_why_in_dutch(
    value: bytes, headers: list[tuple[str, bytes]], why: str
) -> None:
    with pytest.raises(Undecodable) as caught:
        decode_wire(value, headers)
    assert str(caught.value) == why


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"{not a fact", "1 fout, eerste: feit: is geen geldige JSON"),
        (b"{}", "1 fout, eerste: feit: mist het veld 'kind'"),
        (b"[1]", "1 fout, eerste: feit: moet een JSON-object zijn"),
        (b'{"kind": "benefit"}', "3 fouten, eerste: benefit.entity: is verplicht"),
    ],
)
def test_a_fact_outside_the_contract_is_summed_up_in_dutch(value: bytes, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FACTS.validate_json(value)
    assert summary(caught.value, "feit") == why


def test_a_fact_s_unknown_kind_is_not_quoted_with_its_bsn() -> None:
    with pytest.raises(ValidationError) as caught:
        FACTS.validate_json(f'{{"kind": "{BSN}"}}')
    why = summary(caught.value, "feit")
    assert why.startswith("1 fout, eerste: feit: heeft ")
    assert "in het veld 'kind'; bekend: 'benefit'" in why
    assert BSN not in why
