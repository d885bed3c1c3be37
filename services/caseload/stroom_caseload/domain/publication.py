"""The facts record values for an entity's change or a client record, serialised by orjson from
the contract's own types (`stroom_contract.facts`): their fields, in their order, are the JSON."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import cast, get_args

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from stroom_contract.facts import ClientFact, ClientRecord, EntityChange, EntityState, Fact, Version
from stroom_contract.rows import RowVersion, entity_rows

_CHANGES: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default: model for model in get_args(EntityChange)
}
_FACT: TypeAdapter[Fact] = TypeAdapter(Fact)


def entity_change(
    kind: str, key: str, revision: int, base: int | None, rows: list[RowVersion], removed: list[RowVersion]
) -> bytes:
    """The facts record of a change of an entity's rows (`base` None: all of them), the row
    versions in the order of their JSON: the same rows give the same bytes, however derived."""
    values = {
        "entity": key,
        "revision": revision,
        "base": base,
        "rows": _sorted(rows),
        "removed": _sorted(removed),
    }
    return orjson.dumps(_in_order(_CHANGES[kind], values))


def entity_fact(kind: str, key: str, revision: int, versions: list[Version]) -> bytes:
    """The full change of an entity whose states over recorded time are `versions`."""
    return entity_change(kind, key, revision, None, entity_rows(kind, key, _states(versions)), [])


def full_rows(fact: bytes | None) -> list[RowVersion] | None:
    """The rows of a full change as stored; None for anything else (nothing stored, none kept, or
    a record of the withdrawn facts v1 stored before the upgrade)."""
    if fact is None:
        return None
    try:
        found = _FACT.validate_json(fact)
    except ValidationError:
        return None
    if isinstance(found, ClientRecord) or found.base is not None:
        return None
    return cast(list[RowVersion], found.rows)


def _states(versions: list[Version]) -> list[tuple[datetime, EntityState | None]]:
    return [(v.recorded_from, v.state) for v in versions]


def _sorted(versions: list[RowVersion]) -> orjson.Fragment:
    # orjson writes a plain tuple as an array, not a named one.
    wire = sorted(orjson.dumps((tuple(v.row), v.recorded_from, v.recorded_to)) for v in versions)
    return orjson.Fragment(b"[" + b",".join(wire) + b"]")


def _in_order(model: type[BaseModel], values: dict[str, object]) -> dict[str, object]:
    """A facts model's JSON object from `values`: its fields in its order (orjson writes a dict's
    items in order), its defaults where not given. Building the model per fact cost more than
    the rest of a client record."""
    template, required = _template(model)
    # Merged onto the model's fields in order: a dict keeps its keys where they first came.
    merged = template | values
    if len(merged) == len(template) and required <= values.keys():
        return merged
    # A name outside the model is left out; a required field missing fails, as for the model.
    names, defaults = _fields_and_defaults(model)
    return {name: values[name] if name in values else defaults[name] for name in names}


@cache
def _fields_and_defaults(model: type[BaseModel]) -> tuple[tuple[str, ...], dict[str, object]]:
    fields = model.model_fields
    return tuple(fields), {name: f.default for name, f in fields.items() if not f.is_required()}


@cache
def _template(model: type[BaseModel]) -> tuple[dict[str, object], frozenset[str]]:
    """Every field of `model` in order with its default (None for a required one, which `values`
    must give), and the required fields."""
    names, defaults = _fields_and_defaults(model)
    return {name: defaults.get(name) for name in names}, frozenset(set(names) - set(defaults))


def record_id(source: str, event_id: str) -> str:
    """A person's point fact's record: one per event."""
    return f"{source}|{event_id}"


def client_record(
    record: str,
    client_ref: str,
    revision: int,
    recorded_at: datetime,
    retracted_at: datetime | None,
    fact: ClientFact,
) -> tuple[str, bytes]:
    """(Kafka key, value) of one point fact of a person.

    Keyed per record: the newest record of a `record_id` is all there is to know about it.
    """
    values = {
        "entity": f"client:{client_ref}",
        "record_id": record,
        "client_ref": client_ref,
        "revision": revision,
        "recorded_at": recorded_at,
        "retracted_at": retracted_at,
        "fact": fact,
    }
    # The fact stays the contract's dataclass, which orjson writes field by field.
    return f"{values['entity']}|{values['record_id']}", orjson.dumps(_in_order(ClientRecord, values))
