"""Masks every BSN (as `bsn_spans` finds them) in text that may reach a log line or an error message."""

from __future__ import annotations

from stroom_contract.bsn import bsn_spans


def redact(text: str) -> str:
    spans = list(bsn_spans(text))
    if not spans:
        return text
    masked = list(text)
    for start, end in spans:
        masked[start:end] = "*" * (end - start)
    return "".join(masked)
