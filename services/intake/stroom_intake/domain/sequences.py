"""The `sequence` attribute per source (NL GOV profile for CloudEvents): numbers a source skipped.

The profile makes `sequence` a string; intake compares it as an integer when it is one (leading
zeros allowed), and tracks nothing for other strings. Only gaps between the lowest and the highest
number received are known: where a source started counting is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Up to 18 digits fit a signed 64-bit column.
MAX_DIGITS = 18


def numeric_sequence(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > MAX_DIGITS:
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class SourceSequence:
    """What one source's numbered events show: how many arrived, and which numbers did not."""

    source: str
    lowest: int
    highest: int
    received: int
    # The first few missing ranges, inclusive, lowest first.
    gaps: tuple[tuple[int, int], ...]

    @property
    def missing(self) -> int:
        return self.highest - self.lowest + 1 - self.received

    def document(self) -> dict[str, Any]:
        return {
            "lowest": self.lowest,
            "highest": self.highest,
            "received": self.received,
            "missing": self.missing,
            "gaps": [{"from": first, "to": last} for first, last in self.gaps],
        }
