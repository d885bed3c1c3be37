"""A record's headers and value read back as the event's JSON form: the contract's attributes,
extensions (to be checked for BSNs), nothing else."""

from __future__ import annotations

from stroom_contract.kafka_binding import decode_wire, encode_wire


def test_an_encoded_event_reads_back_as_it_was_sent() -> None:
    wire = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "gws/werksaam",
        "type": "stroom.plan.sent.v1",
        "time": "2024-03-01T09:00:00+01:00",
        "subject": "plan P-1",
        "sequence": "7",
        "data": {"plan_ref": "P-1", "nested": {"list": [1, 2.5, None, True]}},
    }
    value, headers = encode_wire(wire)
    assert decode_wire(value, headers) == wire


def test_extensions_are_kept_and_other_headers_dropped() -> None:
    headers = [
        ("ce_id", b"e-1"),
        ("content-type", b"application/json"),
        ("traceparent", b"00-abc"),
        ("ce_notitie", b"klant 111222333"),
        ("ce_leeg", None),
        ("ce_tekst", "al tekst"),
    ]
    wire = decode_wire(b"{}", headers)
    assert wire == {"id": "e-1", "notitie": "klant 111222333", "leeg": None, "tekst": "al tekst", "data": {}}
    assert list(wire) == ["id", "notitie", "leeg", "tekst", "data"]
