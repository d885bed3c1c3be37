"""Which entity an event is about: its Kafka key, so one entity's events stay in order."""

from __future__ import annotations

from stroom_contract.events import Envelope


def entity_key(event: Envelope) -> str | None:
    """`kind:source:ref` for source-scoped refs, `client:ref` for pseudonyms; None for retractions.

    A retraction is about whatever the retracted event was about, which only the
    receiver that stored that event can tell.
    """
    data = event.data
    for kind in ("benefit", "placement", "application", "trajectory"):
        # The type test first: a missing attribute is slow to look up on a pydantic model.
        if event.type.startswith(f"stroom.{kind}.") and (ref := getattr(data, f"{kind}_ref", None)):
            return f"{kind}:{event.source}:{ref}"
    client = getattr(data, "client", None)
    if client is not None:
        return f"client:{client.ref}"
    return None
