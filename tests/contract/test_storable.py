"""Whatever a consumer or a database would refuse, the contract refuses first, field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contract.test_validation import refusal, started

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_platform.organisations import OrganisationsConfig


@pytest.fixture
def intake(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes, timedelta(minutes=5))


@pytest.mark.parametrize(
    ("time", "fragment"),
    [
        ("0001-01-01T00:00:00+01:00", "naar UTC"),
        ("9999-12-31T23:30:00-01:00", "naar UTC"),
        ("1899-12-31T23:30:00Z", "1900-01-01"),
        ("1900-01-01T00:30:00+01:00", "in UTC"),
        ("3000-01-01T00:00:00Z", "2999-12-31"),
        ("2999-12-31T23:30:00-01:00", "in UTC"),
    ],
)
def test_a_time_that_cannot_be_converted_or_stored_is_refused(
    intake: EventValidator, time: str, fragment: str
) -> None:
    assert fragment in refusal(intake, started() | {"time": time})["time"]


@pytest.mark.parametrize(
    "time",
    [
        "1900-01-01T00:30:00Z",
        "1901-01-01T00:30:00+14:00",
        "2998-12-31T23:30:00-14:00",
        "2999-12-31T23:59:59Z",
    ],
)
def test_a_time_inside_the_range_in_utc_is_kept_as_sent(
    pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig, time: str
) -> None:
    # Without a margin, as consumers validate: the range alone decides.
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    moment = validator.validate(started() | {"time": time}).time
    assert moment == datetime.fromisoformat(time)
    assert moment.utcoffset() == datetime.fromisoformat(time).utcoffset()


def test_a_time_in_the_future_is_refused_beyond_the_margin(intake: EventValidator) -> None:
    now = datetime.now(UTC)
    late = (now + timedelta(minutes=6)).isoformat()
    assert "5 minuten in de toekomst" in refusal(intake, started() | {"time": late})["time"]
    intake.validate(started() | {"time": (now + timedelta(minutes=4)).isoformat()})


def test_consumers_take_a_time_intake_accepted_earlier(
    pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    EventValidator(pseudonymiser, organisations.municipality_codes).validate(started() | {"time": later})


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
def test_a_date_outside_the_storable_years_is_refused(intake: EventValidator, day: str) -> None:
    errors = refusal(intake, started(start_date=day))
    assert errors == {"data.start_date": "moet tussen 1900-01-01 en 2999-12-31 liggen"}


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfff"])
@pytest.mark.parametrize(
    ("place", "field"),
    [
        (lambda raw, v: raw | {"source": v}, "source"),
        (lambda raw, v: raw | {"id": v}, "id"),
        (lambda raw, v: raw | {"subject": v}, "subject"),
        (lambda raw, v: raw | {"datacontenttype": v}, "datacontenttype"),
        (lambda raw, v: raw | {"data": raw["data"] | {"benefit_ref": v}}, "data.benefit_ref"),
        (lambda raw, v: raw | {"data": raw["data"] | {"application_ref": v}}, "data.application_ref"),
    ],
)
def test_a_string_a_database_cannot_hold_is_refused_by_field(
    intake: EventValidator, bad: str, place: Any, field: str
) -> None:
    errors = refusal(intake, place(started(), bad))
    assert list(errors) == [field]
    # pydantic itself refuses a lone surrogate in a field with a length limit.
    assert "niet kan worden opgeslagen" in errors[field] or "unicode" in errors[field]


def test_each_bad_field_has_its_own_error(intake: EventValidator) -> None:
    raw = started(benefit_ref="B\x00", start_date="0001-01-01") | {"time": "0001-01-01T00:00:00+01:00"}
    assert set(refusal(intake, raw)) == {"time", "data.benefit_ref", "data.start_date"}
