"""Which entity an event is about: its Kafka key, so one entity's events stay in order."""

from __future__ import annotations

from functools import cache

from stroom_contract.events import Envelope

_ENTITY_KINDS = ("benefit", "placement", "application", "trajectory")


@cache
def _entity_kind(event_type: str) -> str | None:
    """`benefit` for `stroom.benefit.started.v1`; None for types about no source-scoped entity.
    Once per type: the key is computed for every event that passes through."""
    parts = event_type.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "stroom" and parts[1] in _ENTITY_KINDS else None


def entity_key(event: Envelope) -> str | None:
    """`kind:source:ref` for source-scoped refs, `client:ref` for pseudonyms; None for retractions.

    A retraction is about whatever the retracted event was about, which only the
    receiver that stored that event can tell.
    """
    data = event.data
    # The type test first: a missing attribute is slow to look up on a pydantic model.
    kind = _entity_kind(event.type)
    if kind is not None and (ref := getattr(data, f"{kind}_ref", None)):
        return f"{kind}:{event.source}:{ref}"
    client = getattr(data, "client", None)
    if client is not None:
        return f"client:{client.ref}"
    return None
