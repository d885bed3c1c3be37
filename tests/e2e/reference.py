"""Report 1 (monthly mutations) straight from the raw event file, by the spec's counting rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from caseload.reference import benefits, known_events

Key = tuple[str, str, str, str]  # municipality, regulation, unit, "YYYY-MM"
Figures = tuple[int, int, int, int]  # begin, inflow, outflow, end


def _spells(benefit: dict[str, Any]) -> list[tuple[str, date, date | None]]:
    """The benefit's own spell and each membership, a person leaving at the latest when it ends."""
    start: date = benefit["start"]
    end: date | None = benefit["end"] if benefit["end"] is None else max(benefit["end"], start)
    spells: list[tuple[str, date, date | None]] = [("benefits", start, end)]
    for _person, joined, left in benefit["spells"]:
        joined = max(joined, start)
        if end is not None and (left is None or left > end):
            left = end
        if left is not None and left < joined:
            left = joined
        spells.append(("persons", joined, left))
    return spells


def _active(start: date, end: date | None, day: date) -> bool:
    return start <= day and (end is None or end > day)


def monthly(raw: list[dict[str, Any]], as_of: datetime | None, months: list[date]) -> dict[Key, Figures]:
    """Figures per key for the months given by their first days; keys with no figures are absent."""
    result: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for benefit in benefits(known_events(raw, as_of)):
        for unit, start, end in _spells(benefit):
            for first in months:
                following = (first + timedelta(days=32)).replace(day=1)
                counts = result[(benefit["municipality"], benefit["regulation"], unit, f"{first:%Y-%m}")]
                counts[0] += _active(start, end, first - timedelta(days=1))
                counts[1] += first <= start < following
                counts[2] += end is not None and first <= end < following
                counts[3] += _active(start, end, following - timedelta(days=1))
    return {key: (c[0], c[1], c[2], c[3]) for key, c in result.items() if any(c)}
