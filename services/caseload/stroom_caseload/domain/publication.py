"""The facts record values for an entity history or a client record, serialised by orjson from
the contract's own types (`stroom_contract.facts`): their fields, in their order, are the JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import get_args, get_origin, get_type_hints

import orjson
from pydantic import BaseModel

from stroom_contract import facts
from stroom_contract.facts import ClientFact, ClientRecord, EntityState, MemberSpell, PhaseSpell, Version

# Where a history's versions begin: the kept-versions comparison finds them here in a fact.
_VERSIONS = b',"versions":['

_HISTORIES: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default: model for model in get_args(get_args(facts.Fact)[0])
}


def entity_fact(kind: str, key: str, revision: int, versions: list[Version]) -> bytes:
    return revised_fact(None, kind, key, revision, versions)[0]


def revised_fact(
    previous: bytes | None, kind: str, key: str, revision: int, versions: list[Version]
) -> tuple[bytes, int]:
    """The fact of an entity's history, and how many of its leading versions the previously
    published fact holds unchanged: an event in order only appends, so only the tail of the
    history needs storing again."""
    chunks = _Versions().serialise(versions)
    return b"".join((_head(kind, key, revision), b",".join(chunks), b"]}")), _kept(previous, chunks)


def _head(kind: str, key: str, revision: int) -> bytes:
    """The history's JSON up to its first version: `{"kind":…,"versions":[`."""
    empty = orjson.dumps(_in_order(_HISTORIES[kind], {"entity": key, "revision": revision, "versions": []}))
    return empty[: -len(b"]}")]


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


class _Versions:
    """Serialises a history's versions, each spell (a member, a phase) once: consecutive
    versions share most of their spells, and serialising every version's whole state anew made
    the fact cost more than the fold behind it. The bytes are orjson's for the states themselves."""

    def __init__(self) -> None:
        # By identity: the versions hold every spell alive while they are serialised.
        self._spells: dict[int, bytes] = {}
        self._lists: dict[int, orjson.Fragment] = {}

    def serialise(self, versions: list[Version]) -> list[bytes]:
        return [
            orjson.dumps({"recorded_from": v.recorded_from, "state": self._state(v.state)}) for v in versions
        ]

    def _state(self, state: EntityState | None) -> object:
        if state is None:
            return None
        names, listed = _FIELDS[type(state)]
        if not listed:
            return state
        parts = {name: getattr(state, name) for name in names}
        for name in listed:
            parts[name] = self._list(parts[name])
        return parts

    def _list(self, spells: Sequence[MemberSpell | PhaseSpell]) -> orjson.Fragment:
        found = self._lists.get(id(spells))
        if found is None:
            found = self._lists[id(spells)] = orjson.Fragment(
                b"[" + b",".join(map(self._spell, spells)) + b"]"
            )
        return found

    def _spell(self, spell: MemberSpell | PhaseSpell) -> bytes:
        found = self._spells.get(id(spell))
        if found is None:
            found = self._spells[id(spell)] = orjson.dumps(spell)
        return found


def _fields_of(state_type: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A state's fields in order, and those holding a sequence of spells."""
    hints = get_type_hints(state_type)
    names = tuple(f.name for f in fields(state_type))
    return names, tuple(n for n in names if get_origin(hints[n]) is Sequence)


_FIELDS = {state_type: _fields_of(state_type) for state_type in get_args(EntityState)}


def _kept(previous: bytes | None, chunks: list[bytes]) -> int:
    # Compared as bytes, in place: the same serialisation of equal versions gives equal bytes,
    # and parsing a long history twice to compare it cost more than folding it.
    # A key inside a JSON string has its quotes escaped: this finds the array itself.
    found = -1 if previous is None else previous.find(_VERSIONS)
    if previous is None or found < 0:
        return 0
    at = found + len(_VERSIONS)
    kept = 0
    for chunk in chunks:
        end = at + len(chunk)
        if not previous.startswith(chunk, at) or previous[end : end + 1] not in (b",", b"]"):
            break
        kept += 1
        at = end + 1
    return kept


def client_record(
    source: str,
    event_id: str,
    client_ref: str,
    revision: int,
    recorded_at: datetime,
    retracted_at: datetime | None,
    fact: ClientFact,
) -> tuple[str, bytes]:
    """(Kafka key, value) of one point fact of a person.

    Keyed per record, not per person: the facts topic is compacted, and a person's records
    must each survive as their own newest value.
    """
    values = {
        "entity": f"client:{client_ref}",
        "record_id": f"{source}|{event_id}",
        "client_ref": client_ref,
        "revision": revision,
        "recorded_at": recorded_at,
        "retracted_at": retracted_at,
        "fact": fact,
    }
    # The fact stays the contract's dataclass, which orjson writes field by field.
    return f"{values['entity']}|{values['record_id']}", orjson.dumps(_in_order(ClientRecord, values))
