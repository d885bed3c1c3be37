"""An independent reference for report 1, straight from entity histories by the spec's wording."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from reporting.changes import History
from stroom_contract.facts import BenefitState

Key = tuple[str, str, str, int]  # municipality, regulation, unit, month YYYYMM


def state_as_of(history: History, as_of: datetime | None) -> BenefitState | None:
    """The version known at `as_of`: the last one recorded at or before it."""
    known = [v for v in history.versions if as_of is None or v.recorded_from <= as_of]
    return max(known, key=lambda v: v.recorded_from).state if known else None


def _last_day(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _spells(state: BenefitState) -> list[tuple[str, date, date | None]]:
    """(unit, start, end) for the benefit and each member (membership within the benefit)."""
    end = state.end_date if state.end_date is None else max(state.end_date, state.start_date)
    spells: list[tuple[str, date, date | None]] = [("benefits", state.start_date, end)]
    for member in state.members:
        joined = max(member.joined_on, state.start_date)
        left = member.left_on
        if end is not None and (left is None or end < left):
            left = end
        if left is not None and left < joined:
            left = joined
        spells.append(("persons", joined, left))
    return spells


def reference_monthly(
    histories: Iterable[History], as_of: datetime | None, months: list[tuple[int, int]]
) -> dict[Key, tuple[int, int, int, int]]:
    """(begin, inflow, outflow, end) per key for the given (year, month)s; absent keys are zero."""
    result: dict[Key, list[int]] = {}
    for history in histories:
        state = state_as_of(history, as_of)
        if state is None:
            continue
        for unit, start, end in _spells(state):
            for year, month in months:
                stock_day = _last_day(year, month)
                before = date(year, month, 1) - timedelta(days=1)
                counts = result.setdefault(
                    (state.municipality, state.regulation.value, unit, year * 100 + month), [0, 0, 0, 0]
                )
                counts[0] += start <= before and (end is None or end > before)
                counts[1] += (start.year, start.month) == (year, month)
                counts[2] += end is not None and (end.year, end.month) == (year, month)
                counts[3] += start <= stock_day and (end is None or end > stock_day)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in result.items()}
