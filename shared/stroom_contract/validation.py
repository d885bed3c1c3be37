"""Turns one raw event into a validated, pseudonymised envelope or precise field errors."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, SchemaValidator

from stroom_contract.bsn import Pseudonymiser, contains_bsn
from stroom_contract.events import EVENT_ADAPTER, EVENT_TYPES, Envelope
from stroom_contract.messages import DUTCH, dutch_message, field_path
from stroom_contract.redaction import redact
from stroom_contract.schema import data_model
from stroom_contract.types import NO_BSN_MESSAGE


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class InvalidEvent(Exception):
    """An event that breaks the contract; `errors` name each field, never echo a BSN."""

    def __init__(self, event_id: str | None, source: str | None, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.event_id = event_id
        self.source = source
        self.errors = errors


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "union_tag_not_found":
        return DUTCH["missing"]
    if kind == "union_tag_invalid":
        return "is geen bekend eventtype; bekend: " + ", ".join(EVENT_TYPES)
    if kind == "literal_error" and error["loc"][-1:] == ("specversion",):
        return 'moet "1.0" zijn'
    return dutch_message(error)


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return redact(value) if isinstance(value, str) else None


_ATTRIBUTES = frozenset(Envelope.model_fields)


def _holds_bsn(value: Any) -> bool:
    if isinstance(value, str):
        return contains_bsn(value)
    if isinstance(value, int | float):
        return contains_bsn(str(value))
    if isinstance(value, Mapping):
        return any(_holds_bsn(k) or _holds_bsn(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_bsn(item) for item in value)
    return False


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's annotation holds (`Client`, `list[Member]`, `Client | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in get_args(annotation) for model in _models(argument)]


@cache
def _fields(model: type[BaseModel]) -> dict[str, tuple[type[BaseModel], ...]]:
    """Each field a model defines, with the models it holds: read from the annotations once, not
    for every field of every event validated."""
    return {name: tuple(_models(field.annotation)) for name, field in model.model_fields.items()}


# A model's field names, and each field that holds models with the models it holds.
Shape = tuple[frozenset[str], tuple[tuple[str, tuple[type[BaseModel], ...]], ...]]


@cache
def _shape(model: type[BaseModel]) -> Shape:
    fields = _fields(model)
    return frozenset(fields), tuple((name, models) for name, models in fields.items() if models)


Check = Callable[[Any], bool]


@cache
def _known_check(model: type[BaseModel]) -> Check:
    """Whether a value has no field, at any depth, that `model` does not define: the common case,
    decided with a set comparison per object instead of a look at every field, by a function built
    once per model so that an event pays no shape lookup per nested object."""
    names, nested = _shape(model)
    # Per field and model it holds: that model's names if it holds no models itself, so that a
    # nested object (an event's client) is compared here, without a call of its own.
    checks = tuple(
        (name, None if _shape(inner)[1] else _shape(inner)[0], _known_check(inner))
        for name, models in nested
        for inner in models
    )

    def check(value: Any) -> bool:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return True
        if not value.keys() <= names:
            return False
        for name, leaf, inner in checks:
            item = value.get(name)
            if leaf is not None and type(item) is dict:
                if not item.keys() <= leaf:
                    return False
            elif isinstance(item, list):
                if not all(map(inner, item)):
                    return False
            elif not inner(item):
                return False
        return True

    return check


def unknown_field_errors(value: Any, model: type[BaseModel], path: str) -> list[FieldError]:
    """Fields the contract does not define are dropped, but one holding a BSN (in its name or
    anywhere in its value) refuses the event: the case system is sending what it must not."""
    return [] if _known_check(model)(value) else _unknown_field_errors(value, model, path)


def _unknown_field_errors(value: Any, model: type[BaseModel], path: str) -> list[FieldError]:
    if not isinstance(value, Mapping):
        return []
    fields = _fields(model)
    errors = []
    for name, item in value.items():
        nested = fields.get(name) if isinstance(name, str) else None
        if nested is None:
            if _holds_bsn(name):
                errors.append(FieldError(path, "de naam van een veld buiten het contract bevat een BSN"))
            elif _holds_bsn(item):
                errors.append(FieldError(f"{path}.{name}", "hoort niet bij het contract en bevat een BSN"))
            continue
        for model_of_item in nested:
            if isinstance(item, list):
                for index, element in enumerate(item):
                    errors += _unknown_field_errors(element, model_of_item, f"{path}.{name}[{index}]")
            else:
                errors += _unknown_field_errors(item, model_of_item, f"{path}.{name}")
    return errors


def extension_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    """CloudEvents extension attributes are dropped, but one carrying a BSN refuses the event."""
    if raw.keys() <= _ATTRIBUTES:
        return []
    errors = []
    for name, value in raw.items():
        if name in _ATTRIBUTES or not isinstance(name, str):
            continue
        if contains_bsn(name):
            errors.append(FieldError("event", "de naam van een extensie-attribuut bevat een BSN"))
        elif _holds_bsn(value):
            errors.append(FieldError(name, NO_BSN_MESSAGE))
    return errors


_DATA_CHECKS = {name: _known_check(data_model(name)) for name in EVENT_TYPES}
_VALIDATOR = EVENT_ADAPTER.validator


def _closed(schema: Any, models: list[type[BaseModel]]) -> Any:
    """`schema` with each model in it refusing fields it does not define; the models in `models`."""
    if isinstance(schema, dict):
        if schema.get("type") == "model":
            models.append(schema["cls"])
        return {
            key: "forbid" if key == "extra_fields_behavior" else _closed(value, models)
            for key, value in schema.items()
        }
    if isinstance(schema, list | tuple):
        return type(schema)(_closed(item, models) for item in schema)
    return schema


def _closed_validator() -> SchemaValidator:
    """The contract's validator, refusing an event with a field (an attribute or, at any depth, a
    field of `data`) that the contract does not define. Its events are the same classes, equal to
    what the contract's own validator makes of the same input, which it refuses nothing else of."""
    models: list[type[BaseModel]] = []
    schema = _closed(EVENT_ADAPTER.core_schema, models)
    # pydantic-core uses a complete model's own validator in place of the schema it is given:
    # marked incomplete while this one is built, each model is built from the closed schema.
    assert all(vars(model).get("__pydantic_complete__") is True for model in models)
    try:
        for model in models:
            model.__pydantic_complete__ = False
        return SchemaValidator(schema)
    finally:
        for model in models:
            model.__pydantic_complete__ = True


_CLOSED = _closed_validator()


class EventValidator:
    """Validates against the contract and the configured municipalities, pseudonymising BSNs."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser | None,
        municipalities: Collection[str],
        future_margin: timedelta | None = None,
    ):
        # Without `future_margin` any `time` up to the last storable date passes: consumers take
        # what intake accepted minutes or months ago.
        self._context = {
            "pseudonymiser": pseudonymiser,
            "municipalities": frozenset(municipalities),
            "future_margin": future_margin,
        }

    def validate(self, raw: Any) -> Envelope:
        # The dict test first: an ABC instance check costs more than it looks, per event.
        if not isinstance(raw, dict) and not isinstance(raw, Mapping):
            raise InvalidEvent(None, None, [FieldError("event", DUTCH["model_type"])])
        try:
            # Nearly every event holds no field outside the contract: one validation in
            # pydantic-core decides it, without looking at every field's name in Python first.
            # Any other event, valid or not, is decided as below, with the same errors.
            closed: Envelope = _CLOSED.validate_python(raw, context=self._context)
        except ValidationError:
            pass
        else:
            return closed
        event_type = raw.get("type")
        known = _DATA_CHECKS.get(event_type) if isinstance(event_type, str) else None
        if raw.keys() <= _ATTRIBUTES and (known is None or known(raw.get("data"))):
            errors: list[FieldError] = []
        else:
            errors = extension_errors(raw)
            if known is not None:
                errors += unknown_field_errors(raw.get("data"), data_model(event_type), "data")
        try:
            # The adapter's own validator: its wrapper's checks of keyword arguments cost a
            # call per event and are the same every time.
            envelope: Envelope = _VALIDATOR.validate_python(raw, context=self._context)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                loc = error["loc"]
                if loc and loc[0] == raw.get("type"):
                    loc = loc[1:]
                if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                    loc = ("type",)
                errors.append(FieldError(field_path(loc, "event"), _message(error)))
            raise InvalidEvent(_optional_str(raw, "id"), _optional_str(raw, "source"), errors) from None
        if errors:
            raise InvalidEvent(_optional_str(raw, "id"), _optional_str(raw, "source"), errors)
        return envelope
