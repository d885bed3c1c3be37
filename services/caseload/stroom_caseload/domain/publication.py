"""The facts record values for an entity's change or a client record, serialised by orjson from
the contract's own types (`stroom_contract.facts`): their fields, in their order, are the JSON."""

from __future__ import annotations

from datetime import datetime
from typing import cast, get_args

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from stroom_contract.facts import (
    ClientFact,
    ClientRecord,
    EntityChange,
    EntityState,
    Fact,
    Version,
    client_fact_object,
)
from stroom_contract.rows import RowVersion, entity_rows

_FACT: TypeAdapter[Fact] = TypeAdapter(Fact)


def _template(model: type[BaseModel]) -> dict[str, object]:
    """A facts model's JSON object to fill in: its fields in its order (orjson writes a dict's
    items in order) with their defaults, None for a required one (which each record sets). A
    record is a copy filled in: its fields in the model's order without building the model."""
    fields = model.model_fields
    return {name: None if field.is_required() else field.default for name, field in fields.items()}


_CHANGES: dict[str, dict[str, object]] = {
    model.model_fields["kind"].default: _template(model) for model in get_args(EntityChange)
}
_CLIENT_RECORD = _template(ClientRecord)


def entity_change(
    kind: str, key: str, revision: int, base: int | None, rows: list[RowVersion], removed: list[RowVersion]
) -> bytes:
    """The facts record of a change of an entity's rows (`base` None: all of them), the row
    versions in the order of their JSON: the same rows give the same bytes, however derived."""
    value = _CHANGES[kind].copy()
    value["entity"] = key
    value["revision"] = revision
    value["base"] = base
    value["rows"] = _sorted(rows)
    value["removed"] = _sorted(removed)
    return orjson.dumps(value)


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


_NO_ROWS = orjson.Fragment(b"[]")


def _sorted(versions: list[RowVersion]) -> orjson.Fragment:
    # Nearly every change removes none: a whole fold's, and a continued one's.
    if not versions:
        return _NO_ROWS
    # orjson writes a plain tuple as an array, not a named one. Unpacked: a named tuple's fields
    # are looked up by name.
    wire = sorted(orjson.dumps((tuple(row), since, until)) for row, since, until in versions)
    return orjson.Fragment(b"[" + b",".join(wire) + b"]")


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
    entity = f"client:{client_ref}"
    value = _CLIENT_RECORD.copy()
    value["entity"] = entity
    value["record_id"] = record
    value["client_ref"] = client_ref
    value["revision"] = revision
    value["recorded_at"] = recorded_at
    value["retracted_at"] = retracted_at
    value["fact"] = client_fact_object(fact)
    return f"{entity}|{record}", orjson.dumps(value)
