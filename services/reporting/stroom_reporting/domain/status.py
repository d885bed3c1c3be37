"""How final a month's figures are on a report date, the way CBS publishes them: voorlopig,
nader voorlopig, definitief. A change to a month after it became definitive is a revision."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from stroom_reporting.domain.months import first_day, next_month

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
# recorded from, recorded to (None while current). Without recorded_from it stands for a moved
# recorded_to alone: a version taken out and put back with another recorded_to cancels at its
# recorded_from.
SpellVersion = tuple[str, str, str, int, int | None, datetime | None, datetime | None]
# A net change of the flows of a month in recorded time: municipality, regulation, unit, month,
# recorded at, inflow, outflow.
FlowChange = tuple[str, str, str, int, datetime, int, int]
Figures = tuple[int, int, int, int]  # begin, inflow, outflow, end


def _month_number(moment: datetime) -> int:
    day = moment.astimezone(UTC)
    return day.year * 12 + day.month


def months_between(month: int, moment: datetime) -> int:
    """Whole calendar months from `month` to the month of `moment` (UTC)."""
    return _month_number(moment) - (month // 100 * 12 + month % 100)


def late_changes(versions: Iterable[tuple[SpellVersion, int]]) -> list[FlowChange]:
    """What versions added (+1) or taken out (-1) change in the flows over recorded time: a
    version counts from its recorded_from until its recorded_to. Net per month and moment, and
    only those recorded in a later month than the month they change: the others were known
    before the month ended, so before any month they touch became definitive."""
    net: dict[tuple[str, str, str, int, datetime], list[int]] = {}
    # Versions applied together often share their moments: each moment's month found once.
    moment_months: dict[datetime, int] = {}

    def add(key: tuple[str, str, str], month: int, moment: datetime, flow: int, sign: int) -> None:
        at = moment_months.get(moment)
        if at is None:
            at = moment_months[moment] = _month_number(moment)
        if at - (month // 100 * 12 + month % 100) >= 1:
            net.setdefault((*key, month, moment), [0, 0])[flow] += sign

    for (municipality, regulation, unit, start, end, recorded_from, recorded_to), sign in versions:
        key = (municipality, regulation, unit)
        for moment, moment_sign in ((recorded_from, sign), (recorded_to, -sign)):
            if moment is not None:
                add(key, start, moment, 0, moment_sign)
                if end is not None:
                    add(key, end, moment, 1, moment_sign)
    return [(*key, i, o) for key, (i, o) in net.items() if i or o]


def revisions(
    changes: Iterable[FlowChange], since: Mapping[int, datetime], as_of: datetime | None
) -> dict[tuple[str, str, str, int], Figures]:
    """Per (municipality, regulation, unit, month) of `since`: how much the figures known at
    `as_of` (now when None) differ from those known at the month's moment in `since` (begin,
    inflow, outflow, end), where they differ: the sum of the flow changes recorded after that
    moment (and by `as_of`) in the month itself and, for its stock, in the months before it."""
    deltas: dict[tuple[str, str, str, int], list[int]] = {}
    # A month becomes definitive after every month before it: moments rise with the months.
    ordered = sorted(since.items())
    months = [month for month, _ in ordered]
    moments = [moment for _, moment in ordered]
    for municipality, regulation, unit, month, recorded_at, inflow, outflow in changes:
        if as_of is not None and recorded_at > as_of:
            continue
        # The months from `month` on that were definitive before the change was recorded.
        for later in months[bisect_left(months, month) : bisect_left(moments, recorded_at)]:
            acc = deltas.setdefault((municipality, regulation, unit, later), [0, 0, 0, 0])
            if later == month:
                acc[1] += inflow
                acc[2] += outflow
            else:
                acc[0] += inflow - outflow
            acc[3] += inflow - outflow
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
