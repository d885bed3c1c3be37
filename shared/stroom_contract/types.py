"""Field types of the contract: strict ISO dates and times, references, municipality codes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeAlias

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictStr,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticKnownError, core_schema

from stroom_contract.bsn import CLIENT_REF_PATTERN, contains_bsn, is_client_ref

# A JSON value as parsed, read-only: an event's `data` before the contract types it.
JSON: TypeAlias = Mapping[str, "JSON"] | Sequence["JSON"] | str | int | float | bool | None
JSONObject: TypeAlias = Mapping[str, JSON]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_MUNICIPALITY = re.compile(r"^GM\d{4}$")
# NL GOV profile for CloudEvents: a government system names itself by its organisation's OIN.
_NLD_URN_PREFIX = "urn:nld:"
_NLD_SOURCE = re.compile(r"^urn:nld:oin:\d{20}:systeem:[A-Za-z0-9][A-Za-z0-9._~-]*$")
# What no database column and no JSON document can hold: NUL, and halves of surrogate pairs.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# The dates every part can store and fold, month ends and a year ahead included; older or later
# dates are typing errors. An event's `time` must lie in the same years once converted to UTC.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
_RANGE = f"moet tussen {EARLIEST.isoformat()} en {LATEST.isoformat()} liggen"


# Events repeat the same few thousand days over and over: each valid one is parsed once.
_DATES: dict[str, date] = {}
_DATES_KEPT = 100_000


def parse_date(value: Any) -> date:
    """An ISO date of the contract's range (strings are parsed once and kept)."""
    if isinstance(value, str) and (known := _DATES.get(value)) is not None:
        return known
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("moet een ISO-datum JJJJ-MM-DD zijn")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("is geen datum die in de kalender bestaat") from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(_RANGE)
    if len(_DATES) >= _DATES_KEPT:
        _DATES.clear()
    _DATES[value] = parsed
    return parsed


def _moment(value: Any, info: ValidationInfo) -> datetime:
    """An RFC 3339 moment of the range and, as `time` is when the source recorded the fact, not
    later than now, give or take clocks: both in the one validator call an event pays for it."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        moment = value
    else:
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValueError("moet een RFC 3339-tijdstip met tijdzone zijn")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("is geen tijdstip dat in de kalender bestaat") from None
        # An offset is less than a day: a moment strictly inside the range's years stays inside
        # it in UTC.
        if not EARLIEST.year < moment.year < LATEST.year:
            try:
                in_utc = moment.astimezone(UTC)
            except OverflowError:
                raise ValueError("is niet naar UTC om te rekenen") from None
            if not EARLIEST <= in_utc.date() <= LATEST:
                raise ValueError(f"{_RANGE}, in UTC")
    margin: timedelta | None = (info.context or {}).get("future_margin")
    if margin is not None and moment > datetime.now(UTC) + margin:
        minutes = round(margin.total_seconds() / 60)
        raise ValueError(
            f"ligt meer dan {minutes} minuten in de toekomst; het is wanneer de bron het vastlegde"
        )
    return moment


def _known_municipality(value: str, info: ValidationInfo) -> str:
    if not _MUNICIPALITY.match(value):
        raise ValueError("moet een CBS-gemeentecode GMnnnn zijn")
    known = (info.context or {}).get("municipalities")
    if known is not None and value not in known:
        raise ValueError(f"{value} is geen gemeente van een ingestelde organisatie")
    return value


NO_BSN_MESSAGE = "bevat een BSN; een persoon wordt alleen aangeduid met client.bsn of client.client_ref"


# Events repeat the same refs and sources over and over: each clean one is scanned once. Long
# free texts are not kept, so the memory stays small.
_CLEAN: set[str] = set()
_CLEAN_KEPT = 100_000


def _text(value: str) -> str:
    if value in _CLEAN:
        return value
    # Both checks inline, without a helper call each: this runs for every event's own (new) id.
    if (found := _UNSTORABLE.search(value)) is not None:
        what = "een NUL-teken" if found.group() == "\x00" else "de helft van een surrogaatpaar"
        raise ValueError(f"bevat {what}, dat niet kan worden opgeslagen")
    if contains_bsn(value):
        raise ValueError(NO_BSN_MESSAGE)
    if len(value) <= MAX_REF_LENGTH:
        if len(_CLEAN) >= _CLEAN_KEPT:
            _CLEAN.clear()
        _CLEAN.add(value)
    return value


@dataclass(frozen=True, slots=True)
class _Between:
    """`Text` of a length in bounds, checked in the same call and documented in the JSON Schema
    from the same two numbers: the same errors as pydantic's own length constraints after a
    validator, without their two calls per string."""

    min_length: int
    max_length: int
    # A further check of the form, in the same call: one call per string instead of two.
    form: Callable[[str], str] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "minLength": self.min_length, "maxLength": self.max_length}

    def _check(self, value: str) -> str:
        # Most refs were seen clean before: the set lookup here spares a call per ref.
        if value not in _CLEAN:
            _text(value)
        if len(value) < self.min_length:
            raise PydanticKnownError(
                "too_short",
                {"field_type": "Value", "min_length": self.min_length, "actual_length": len(value)},
            )
        if len(value) > self.max_length:
            raise PydanticKnownError(
                "too_long",
                {"field_type": "Value", "max_length": self.max_length, "actual_length": len(value)},
            )
        return value if self.form is None else self.form(value)


def _pseudonym(value: str) -> str:
    if not is_client_ref(value):
        raise ValueError(
            "moet een client_ref van Stroom zijn: ps_ gevolgd door 32 hexadecimale cijfers (kleine letters)"
        )
    return value


def _source(value: str) -> str:
    # Other forms (`gws/werksaam-westfriesland`, a URL) stay as they were.
    if value[: len(_NLD_URN_PREFIX)].lower() == _NLD_URN_PREFIX and not _NLD_SOURCE.match(value):
        raise ValueError("een urn:nld:-source heeft de vorm urn:nld:oin:<OIN van 20 cijfers>:systeem:<naam>")
    return value


IsoDate = Annotated[date, BeforeValidator(parse_date)]
Rfc3339 = Annotated[datetime, BeforeValidator(_moment)]
# Every free string of the contract refuses a BSN: personal data belongs in `bsn` alone.
Text = Annotated[StrictStr, AfterValidator(_text)]
# The longest ref, event id or source; the tables that store them are this wide.
MAX_REF_LENGTH = 200
_REF_BOUNDS = _Between(1, MAX_REF_LENGTH)
Ref = Annotated[StrictStr, _REF_BOUNDS]
# A Ref of a checked form.
Source = Annotated[StrictStr, replace(_REF_BOUNDS, form=_source)]
# CloudEvents' `sequence` extension (NL GOV profile): a string, the order within its source.
EventSequence = Annotated[StrictStr, _Between(1, 100)]
ClientRef = Annotated[
    StrictStr, AfterValidator(_pseudonym), Field(json_schema_extra={"pattern": CLIENT_REF_PATTERN})
]
Municipality = Annotated[
    StrictStr,
    AfterValidator(_known_municipality),
    Field(json_schema_extra={"pattern": _MUNICIPALITY.pattern}),
]
Step = Annotated[int, Field(strict=True, ge=1, le=6)]
