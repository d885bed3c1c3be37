"""How final a month's figures are on a report date, the way CBS publishes them: voorlopig,
nader voorlopig, definitief. A change to a month after it became definitive is a revision."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from itertools import islice

from stroom_reporting.domain.months import first_day, next_month, previous_month

PROVISIONAL = "voorlopig"
FURTHER_PROVISIONAL = "nader voorlopig"
DEFINITIVE = "definitief"
ORDER = (PROVISIONAL, FURTHER_PROVISIONAL, DEFINITIVE)
LABELS = {
    PROVISIONAL: "Voorlopig",
    FURTHER_PROVISIONAL: "Nader voorlopig",
    DEFINITIVE: "Definitief",
}


def months_after_end(month: int, months: int) -> date:
    """The day on which `months` whole months have passed since the end of `month`:
    2025-01 and 2 -> 2025-04-01."""
    later = next_month(month)
    for _ in range(months):
        later = next_month(later)
    return first_day(later)


def month_status(month: int, report_date: date, provisional_months: int, definitive_months: int) -> str:
    """voorlopig until the month's end is `provisional_months` past, nader voorlopig until
    `definitive_months`, then definitief."""
    if report_date >= months_after_end(month, definitive_months):
        return DEFINITIVE
    if report_date >= months_after_end(month, provisional_months):
        return FURTHER_PROVISIONAL
    return PROVISIONAL


def least_final(statuses: Iterable[str]) -> str:
    """A total over months is as final as its least final month."""
    return min(statuses, key=ORDER.index, default=DEFINITIVE)


# A version of a count spell: municipality, regulation, unit, start month, end month (or None),
# recorded from, recorded to (None while current).
SpellVersion = tuple[str, str, str, int, int | None, datetime, datetime | None]
Figures = tuple[int, int, int, int]  # begin, inflow, outflow, end


def _known(recorded_from: datetime, recorded_to: datetime | None, at: datetime | None) -> bool:
    if at is None:
        return recorded_to is None
    return recorded_from <= at and (recorded_to is None or recorded_to > at)


def _stock(start: int, end: int | None, month: int) -> int:
    """What a spell adds to the stock at the end of `month`: its inflows minus its outflows so far."""
    return (start <= month) - (end is not None and end <= month)


def revisions(
    versions: Iterable[SpellVersion], since: Mapping[int, datetime], as_of: datetime | None
) -> dict[tuple[str, str, str, int], Figures]:
    """Per (municipality, regulation, unit, month) of `since`: how much the figures known at
    `as_of` (now when None) differ from those known at the month's moment in `since` (begin,
    inflow, outflow, end), where they differ. Only versions recorded or superseded after a moment
    can make a difference, so those are all this needs."""
    deltas: dict[tuple[str, str, str, int], list[int]] = {}
    # Only months from the spell's start to its end can change, and a version is known at every
    # moment after its last change as it is now, so only those months that became definitive
    # before that change can differ. A month becomes definitive after every month before it:
    # both bounds are positions in month order.
    ordered = sorted(since.items())
    months = [month for month, _ in ordered]
    moments = [moment for _, moment in ordered]
    for municipality, regulation, unit, start, end, recorded_from, recorded_to in versions:
        known_now = _known(recorded_from, recorded_to, as_of)
        last_change = recorded_from if recorded_to is None else recorded_to
        upto = bisect_left(moments, last_change)
        if end is not None:
            upto = min(upto, bisect_right(months, end))
        for month, moment in islice(ordered, bisect_left(months, start), upto):
            sign = known_now - _known(recorded_from, recorded_to, moment)
            if not sign:
                continue
            change = (
                sign * _stock(start, end, previous_month(month)),
                sign * (start == month),
                sign * (end == month),
                sign * _stock(start, end, month),
            )
            if any(change):
                acc = deltas.setdefault((municipality, regulation, unit, month), [0, 0, 0, 0])
                for i, value in enumerate(change):
                    acc[i] += value
    return {key: (d[0], d[1], d[2], d[3]) for key, d in deltas.items() if any(d)}


def with_totals(
    deltas: Mapping[tuple[str, str, str, int], Figures], total: str
) -> dict[tuple[str, str, str, int], Figures]:
    """The differences per key, per municipality over regulations, per regulation over
    municipalities and overall (`total` in the summed field); those that cancel out are left out."""
    sums: dict[tuple[str, str, str, int], list[int]] = {}
    for (municipality, regulation, unit, month), figures in deltas.items():
        for key in (
            (municipality, regulation, unit, month),
            (municipality, total, unit, month),
            (total, regulation, unit, month),
            (total, total, unit, month),
        ):
            acc = sums.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate(figures):
                acc[i] += value
    return {key: (s[0], s[1], s[2], s[3]) for key, s in sums.items() if any(s)}
