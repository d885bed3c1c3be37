"""A body that is no JSON is refused in Dutch, naming where: orjson's English never reaches the
caller, whether the body is one document, an NDJSON line or a CSV cell."""

from __future__ import annotations

import re

import orjson
import pytest

from stroom_intake.domain.reading import MalformedBody, Position, Unreadable, read_json, read_ndjson

CASES = [
    (b"", "de tekst is leeg (regel 1, kolom 1)"),
    (b'[{"id": "x",\n  oops]', "een naam moet tekst tussen dubbele aanhalingstekens zijn (regel 2, kolom 3)"),
    (b"[#]", "hier hoort een JSON-waarde (regel 1, kolom 2)"),
    (b'{"id": "x",}', "een komma vlak voor ] of } is niet toegestaan (regel 1, kolom 11)"),
    (b'{"id" "x"}', "na een naam hoort een dubbele punt (regel 1, kolom 7)"),
    (b"{1: 2}", "een naam moet tekst tussen dubbele aanhalingstekens zijn (regel 1, kolom 2)"),
    (b"[1 2]", "hier hoort een komma of ] (regel 1, kolom 4)"),
    (b'{"a": 1 "b": 2}', "hier hoort een komma of } (regel 1, kolom 9)"),
    (b'{"id": "x', "de tekst houdt op voordat de JSON af is (regel 1, kolom 10)"),
    (b"[1]x", "na de JSON volgt nog tekst (regel 1, kolom 4)"),
    (b'"\xff"', "de tekst is geen geldige UTF-8 (regel 1, kolom 1)"),
    (b"[" * 1100 + b"]" * 1100, "de JSON is te diep genest (regel 1, kolom 1026)"),
    (b"[1e999]", "een getal is te groot (regel 1, kolom 2)"),
    (b"[tru]", "zonder aanhalingstekens zijn alleen true, false en null toegestaan (regel 1, kolom 2)"),
    (b'["\\q"]', "een tekst bevat een ongeldige escape (\\) (regel 1, kolom 3)"),
    (b"[01]", "een getal begint niet met een 0 (regel 1, kolom 2)"),
    (b"[-]", "een getal mist zijn cijfers (regel 1, kolom 3)"),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_a_body_that_is_no_json_is_refused_in_dutch(body: bytes, message: str) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    with pytest.raises(MalformedBody) as caught:
        read_json(body, batch=None)
    assert caught.value.message == f"geen geldige JSON: {message}"


def test_an_ndjson_line_that_is_no_json_is_refused_in_dutch() -> None:
    [unreadable] = list(read_ndjson([b'{"id": "x",}'], first_line=7))
    assert isinstance(unreadable, Unreadable)
    assert unreadable.position == Position(0, 7)
    assert unreadable.error.message == (
        "is geen geldige JSON: een komma vlak voor ] of } is niet toegestaan (regel 1, kolom 11)"
    )


def test_no_english_of_orjson_reaches_the_caller() -> None:
    english = re.compile(r"\b(unexpected|expected|invalid|allowed|document|number|character)\b")
    for body, _ in CASES:
        with pytest.raises(MalformedBody) as caught:
            read_json(body, batch=None)
        assert not english.search(caught.value.message), caught.value.message
