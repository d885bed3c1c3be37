"""Pydantic's validation errors in Dutch, for every message a caller reads: an event's field
errors and an HTTP request's invalid parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stroom_contract.redaction import redact

_OBJECT = "moet een JSON-object zijn"
_WHOLE_NUMBER = "moet een geheel getal zijn"
_DATE = "moet een datum zijn (JJJJ-MM-DD)"
_MOMENT = "moet een tijdstip zijn (RFC 3339)"
_ONE_OF = "moet een van deze waarden zijn: {expected}"
_COLLECTIONS = frozenset({"List", "Tuple", "Set", "Frozenset", "Dict", "Generator"})

# By pydantic_core's error type; `{name}` is filled from the error's context.
DUTCH: Mapping[str, str] = {
    "missing": "is verplicht",
    "extra_forbidden": "is onbekend; laat dit veld weg",
    "string_type": "moet tekst zijn",
    "string_too_short": "moet minstens {min_length} lang zijn",
    "string_too_long": "mag hoogstens {max_length} lang zijn",
    "string_pattern_mismatch": "heeft niet de vorm {pattern}",
    "too_short": "moet minstens {min_length} bevatten",
    "too_long": "mag hoogstens {max_length} bevatten",
    "list_type": "moet een lijst zijn",
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "int_type": _WHOLE_NUMBER,
    "int_parsing": _WHOLE_NUMBER,
    "int_from_float": _WHOLE_NUMBER,
    "bool_type": "moet true of false zijn",
    "bool_parsing": "moet true of false zijn",
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "datetime_type": _MOMENT,
    "datetime_parsing": _MOMENT,
    "datetime_from_date_parsing": _MOMENT,
    "literal_error": _ONE_OF,
    "enum": _ONE_OF,
    "greater_than": "moet groter zijn dan {gt}",
    "greater_than_equal": "moet minstens {ge} zijn",
    "less_than": "moet kleiner zijn dan {lt}",
    "less_than_equal": "mag hoogstens {le} zijn",
}


# What orjson says (in English) by a fragment of its message, and what a caller reads instead;
# the first that matches. orjson's message names no offending text, only what it expected.
_JSON_ERRORS = (
    ("zero-length", "de tekst is leeg"),
    ("not valid UTF-8", "de tekst is geen geldige UTF-8"),
    ("unexpected end of data", "de tekst houdt op voordat de JSON af is"),
    ("trailing comma", "een komma vlak voor ] of } is niet toegestaan"),
    ("expected ':'", "na een naam hoort een dubbele punt"),
    ("expected a string key", "een naam moet tekst tussen dubbele aanhalingstekens zijn"),
    ("expected ',' or ']'", "hier hoort een komma of ]"),
    ("expected ',' or '}'", "hier hoort een komma of }"),
    ("after document", "na de JSON volgt nog tekst"),
    ("depth limit", "de JSON is te diep genest"),
    ("infinity", "een getal is te groot"),
    ("invalid literal", "zonder aanhalingstekens zijn alleen true, false en null toegestaan"),
    ("escaped sequence", "een tekst bevat een ongeldige escape (\\)"),
    ("leading zero", "een getal begint niet met een 0"),
    ("no digit", "een getal mist zijn cijfers"),
    ("expected a JSON value", "hier hoort een JSON-waarde"),
)

# Errors of a whole JSON document read by a tagged union (a fact), which no request parameter
# meets; the event validator names an event's type in its own words.
_DOCUMENT: Mapping[str, str] = {
    "json_invalid": "is geen geldige JSON",
    "union_tag_not_found": "mist het veld {discriminator}",
    "union_tag_invalid": "heeft {tag} in het veld {discriminator}; bekend: {expected_tags}",
}


def counted(number: int, singular: str, plural: str) -> str:
    """`number` with its noun in the form the number takes: "1 teken", "5 tekens", "0 events"."""
    return f"{number} {singular if number == 1 else plural}"


def _lengths(error_type: str, context: Mapping[str, Any]) -> Mapping[str, Any]:
    # pydantic checks a length after a validator (the contract's `Text`) as a "Value"'s, whose
    # field_type says whether it counted the elements of a collection or the characters of a text.
    collection = not error_type.startswith("string_") and context.get("field_type") in _COLLECTIONS
    nouns = ("element", "elementen") if collection else ("teken", "tekens")
    return {
        **context,
        **{name: counted(context[name], *nouns) for name in ("min_length", "max_length") if name in context},
    }


def dutch_message(error: ErrorDetails | Mapping[str, Any]) -> str:
    """The error in Dutch; a type without a translation keeps pydantic's message, and a
    validator's own message (`value_error`) is kept without pydantic's prefix. Redacted, as the
    expected values or pattern could only echo the contract, but a validator's message might not."""
    template = DUTCH.get(error["type"])
    context = _lengths(error["type"], error.get("ctx") or {})
    if template is not None:
        try:
            return redact(template.format_map(context))
        except KeyError:
            pass
    return redact(str(error["msg"]).removeprefix("Value error, "))


def json_error(exc: orjson.JSONDecodeError) -> str:
    """Why a text is not JSON, in Dutch, and where."""
    reason = next((dutch for fragment, dutch in _JSON_ERRORS if fragment in exc.msg), "ongeldige JSON")
    return f"{reason} (regel {exc.lineno}, kolom {exc.colno})"


def field_path(loc: Sequence[int | str], whole: str) -> str:
    """An error's place as a reader writes it (`data.members[0].role`); `whole` when it is the
    value itself."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or whole


def summary(exc: ValidationError, whole: str) -> str:
    """How many errors a value has and the first of them, in Dutch: "2 fouten, eerste: state.x:
    is verplicht"; `whole` names the value itself."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    document = _DOCUMENT.get(first["type"])
    message = redact(document.format_map(first.get("ctx") or {})) if document else dutch_message(first)
    return f"{counted(len(errors), 'fout', 'fouten')}, eerste: {field_path(first['loc'], whole)}: {message}"
