"""CloudEvents Kafka protocol binding, binary content mode: attributes in `ce_` headers, data as value."""

from __future__ import annotations

from typing import Any

import orjson

from stroom_contract.events import EVENT_ADAPTER, Envelope
from stroom_contract.messages import json_error

Headers = list[tuple[str, bytes]]
_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "sequence")
CONTENT_TYPE = "application/json"
_HEADER_ATTRIBUTES = {f"ce_{name}": name for name in _ATTRIBUTES}


def encode(event: Envelope) -> tuple[bytes, Headers]:
    """The record value and headers for an already validated (pseudonymised) event."""
    return encode_wire(event.to_wire())


def encode_wire(wire: dict[str, Any]) -> tuple[bytes, Headers]:
    """Like `encode`, for an event already in its JSON form (as kept in an outbox)."""
    headers: Headers = [(f"ce_{name}", str(wire[name]).encode()) for name in _ATTRIBUTES if name in wire]
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return orjson.dumps(wire["data"]), headers


class Undecodable(ValueError):
    """A record that holds no event's JSON form; the message says why in Dutch and quotes
    nothing of the record."""


def decode_wire(value: bytes, headers: Any) -> dict[str, Any]:
    """The event's JSON form from a record; `headers` as aiokafka gives them."""
    wire: dict[str, Any] = {}
    for name, raw in headers:
        # The contract's attributes by lookup, in strings shared by every event: no prefix test or
        # new key string per header, and the validator finds its fields by identity.
        attribute = _HEADER_ATTRIBUTES.get(name)
        if attribute is None:
            if not name.startswith("ce_"):
                continue
            attribute = name[3:]
        try:
            wire[attribute] = raw.decode() if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise Undecodable(f"de header {name} is geen geldige UTF-8") from None
    try:
        wire["data"] = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise Undecodable(f"de waarde is geen JSON: {json_error(exc)}") from None
    return wire


def decode(value: bytes, headers: Any) -> Envelope:
    """A typed event from a record; raw BSNs are refused here (no pseudonymiser in context)."""
    return EVENT_ADAPTER.validate_python(decode_wire(value, headers))
