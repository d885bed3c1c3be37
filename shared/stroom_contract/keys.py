"""Which entity an event is about: its Kafka key, so one entity's events stay in order."""

from __future__ import annotations

import hashlib
from functools import cache

from stroom_contract.events import Envelope

_ENTITY_KINDS = ("benefit", "placement", "application", "trajectory")
# The key columns' width; a longer key is replaced by a digest of its parts.
MAX_KEY_LENGTH = 300
_ESCAPES = str.maketrans({"%": "%25", ":": "%3A"})


def scoped_key(kind: str, source: str, ref: str) -> str:
    """`kind:source:ref`, with `%` and `:` in the ref written `%25` and `%3A`.

    The ref is everything after the last `:`, the kind everything before the first, so no two
    (source, ref) pairs share a key: source `urn:x` with ref `GM0405:B1` is not source
    `urn:x:GM0405` with ref `B1`. A key longer than the columns hold becomes `kind:#` and the
    SHA-256 of both parts, which has one `:` where a readable key has two or more.
    """
    # Nearly every ref holds neither: looking costs less than translating each character.
    escaped = ref.translate(_ESCAPES) if "%" in ref or ":" in ref else ref
    key = f"{kind}:{source}:{escaped}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(f"{len(source)}:{source}:{ref}".encode(errors="surrogatepass")).hexdigest()
    return f"{kind}:#{digest}"


def key_kind(key: str) -> str:
    """What a key starts with: an entity's kind, `client`, or `retraction` for retractions
    waiting for the event they retract."""
    return key.split(":", 1)[0]


def kind_of(event_type: str) -> str:
    """`benefit`, `placement`, `application` or `trajectory`; `client` for the rest (a person's
    point facts), as caseload folds them."""
    return _entity_kind(event_type) or "client"


def kind_of_key(key: str) -> str:
    """The kind of what an entity key names, as `kind_of` gives it for its events."""
    kind = key_kind(key)
    return kind if kind in _ENTITY_KINDS else "client"


@cache
def _entity_kind(event_type: str) -> str | None:
    """`benefit` for `stroom.benefit.started.v1`; None for types about no source-scoped entity.
    Once per type: the key is computed for every event that passes through."""
    parts = event_type.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "stroom" and parts[1] in _ENTITY_KINDS else None


@cache
def _ref_field(event_type: str) -> tuple[str, str] | None:
    """The kind of the entity an event of `event_type` is about and its data's field naming it."""
    kind = _entity_kind(event_type)
    return None if kind is None else (kind, f"{kind}_ref")


def entity_key(event: Envelope) -> str | None:
    """`kind:source:ref` for source-scoped refs, `client:ref` for pseudonyms; None for retractions.

    A retraction is about whatever the retracted event was about, which only the
    receiver that stored that event can tell.
    """
    # The fields read from the models' own dicts: each attribute of a pydantic model is looked up
    # past its `__getattr__` hook (and `Client.ref` is a call more), for every event that passes.
    fields = event.__dict__
    data = fields["data"].__dict__
    scoped = _ref_field(fields["type"])
    if scoped is not None and (ref := data.get(scoped[1])):
        return scoped_key(scoped[0], fields["source"], ref)
    client = data.get("client")
    if client is not None:
        # Set by validation (see `Client`).
        return f"client:{client.__dict__['client_ref']}"
    return None
