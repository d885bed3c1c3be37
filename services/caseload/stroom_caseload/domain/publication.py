"""The facts record values (`stroom_contract.facts` JSON) for an entity history or a client record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from stroom_caseload.domain.states import ClientFact, Version


def entity_fact(kind: str, key: str, revision: int, versions: list[Version]) -> bytes:
    return orjson.dumps(
        {
            "kind": kind,
            "entity": key,
            "revision": revision,
            "versions": [{"recorded_from": v.recorded_from, "state": v.state} for v in versions],
        }
    )


def kept_versions(previous: bytes | None, fact: bytes) -> int:
    """How many leading versions of `fact` the previously published fact holds unchanged: an
    event in order only appends, so only the tail of the history needs storing again."""
    if previous is None:
        return 0
    before = orjson.loads(previous)["versions"]
    after = orjson.loads(fact)["versions"]
    kept = 0
    for old, new in zip(before, after, strict=False):
        if old != new:
            break
        kept += 1
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
