"""The facts record values (`stroom_contract.facts` JSON) for an entity history or a client record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson

from stroom_caseload.domain.states import (
    BenefitState,
    ClientFact,
    EntityState,
    MemberSpell,
    PhaseSpell,
    TrajectoryState,
    Version,
)

_VERSIONS = b',"versions":['


def entity_fact(kind: str, key: str, revision: int, versions: list[Version]) -> bytes:
    return revised_fact(None, kind, key, revision, versions)[0]


def revised_fact(
    previous: bytes | None, kind: str, key: str, revision: int, versions: list[Version]
) -> tuple[bytes, int]:
    """The fact of an entity's history, and how many of its leading versions the previously
    published fact holds unchanged: an event in order only appends, so only the tail of the
    history needs storing again."""
    chunks = _Versions().serialise(versions)
    head = orjson.dumps({"kind": kind, "entity": key, "revision": revision})[:-1]
    return b"".join((head, _VERSIONS, b",".join(chunks), b"]}")), _kept(previous, chunks)


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
        listed = _SPELL_LISTS.get(type(state))
        if listed is None:
            return state
        names, field = listed
        parts = {name: getattr(state, name) for name in names}
        parts[field] = self._list(parts[field])
        return parts

    def _list(self, spells: tuple[MemberSpell | PhaseSpell, ...]) -> orjson.Fragment:
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


_SPELL_LISTS: dict[type, tuple[tuple[str, ...], str]] = {
    BenefitState: (tuple(f.name for f in fields(BenefitState)), "members"),
    TrajectoryState: (tuple(f.name for f in fields(TrajectoryState)), "phases"),
}


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
    data: Mapping[str, Any],
    revision: int,
    recorded_at: datetime,
    retracted_at: datetime | None,
    fact: ClientFact,
) -> tuple[str, bytes]:
    """(Kafka key, value) of one point fact of a person.

    Keyed per record, not per person: the facts topic is compacted, and a person's records
    must each survive as their own newest value.
    """
    client_ref = data["client"]["client_ref"]
    entity = f"client:{client_ref}"
    record_id = f"{source}|{event_id}"
    value = orjson.dumps(
        {
            "kind": "client",
            "entity": entity,
            "record_id": record_id,
            "client_ref": client_ref,
            "revision": revision,
            "recorded_at": recorded_at,
            "retracted_at": retracted_at,
            "fact": fact,
        }
    )
    return f"{entity}|{record_id}", value
