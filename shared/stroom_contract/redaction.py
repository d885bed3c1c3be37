"""Masks anything shaped like a BSN in text that may reach a log line or an error message."""

from __future__ import annotations

import re

_NINE_DIGITS = re.compile(r"(?<!\d)\d{8,9}(?!\d)")


def redact(text: str) -> str:
    # Eight digits too: a BSN with a dropped leading zero is still a BSN.
    return _NINE_DIGITS.sub(lambda m: "*" * len(m.group()), text)
