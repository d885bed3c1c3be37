"""Validation errors in Dutch, naming the field: the HTTP handler and the event validator share
one translation of pydantic's error types."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stroom_contract.messages import DUTCH, dutch_message
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.problems import install_problem_handlers


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=5)
    count: int


def app() -> FastAPI:
    served = FastAPI()
    install_problem_handlers(served)

    @served.get("/items")
    async def items(query: Annotated[Filter, Query()]) -> dict[str, Any]:
        return query.model_dump()

    return served


def test_the_mapped_error_types() -> None:
    assert sorted(DUTCH) == [
        "bool_parsing",
        "bool_type",
        "date_from_datetime_parsing",
        "date_parsing",
        "date_type",
        "datetime_from_date_parsing",
        "datetime_parsing",
        "datetime_type",
        "dict_type",
        "enum",
        "extra_forbidden",
        "greater_than",
        "greater_than_equal",
        "int_from_float",
        "int_parsing",
        "int_type",
        "less_than",
        "less_than_equal",
        "list_type",
        "literal_error",
        "missing",
        "model_attributes_type",
        "model_type",
        "string_pattern_mismatch",
        "string_too_long",
        "string_too_short",
        "string_type",
        "too_long",
        "too_short",
    ]


async def test_an_over_long_a_missing_and_an_unknown_parameter_are_refused_in_dutch() -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://stroom") as http:
        response = await http.get("/items", params={"name": "zeslang", "extra": "1"})
    assert response.status_code == 400
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors == {
        "query.name": "mag hoogstens 5 tekens lang zijn",
        "query.count": "is verplicht",
        "query.extra": "is onbekend; laat dit veld weg",
    }


@pytest.fixture
def validator() -> EventValidator:
    return EventValidator(None, ["GM0405"])


def test_an_event_s_errors_are_in_dutch_naming_the_field(validator: EventValidator) -> None:
    raw = {
        "specversion": "1.0",
        "id": "x" * 201,
        "source": "gws/hoorn",
        "type": "stroom.benefit.started.v1",
        "time": "2024-01-02T09:00:00+01:00",
        "data": {"municipality": "GM0405", "regulation": "WW", "start_date": "2024-01-01"},
    }
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(raw)
    errors = {e.field: e.message for e in caught.value.errors}
    assert errors["id"] == "mag hoogstens 200 tekens bevatten"
    assert errors["data.benefit_ref"] == "is verplicht"
    assert errors["data.regulation"].startswith("moet een van deze waarden zijn: ")
    assert "'PW'" in errors["data.regulation"]


class Lengths(BaseModel):
    initial: str = Field(max_length=1)
    code: str = Field(min_length=4)
    refs: list[str] = Field(min_length=1)
    pair: list[int] = Field(max_length=2)


def test_a_limit_names_its_unit_in_the_number_it_takes() -> None:
    with pytest.raises(ValidationError) as caught:
        Lengths(initial="ab", code="abc", refs=[], pair=[1, 2, 3])
    assert {str(e["loc"][0]): dutch_message(e) for e in caught.value.errors()} == {
        "initial": "mag hoogstens 1 teken lang zijn",
        "code": "moet minstens 4 tekens lang zijn",
        "refs": "moet minstens 1 element bevatten",
        "pair": "mag hoogstens 2 elementen bevatten",
    }
