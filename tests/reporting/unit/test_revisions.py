"""A definitive month's revision from the late flow changes equals the difference between its
figures known then and known at the report's moment, computed from every version directly."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_reporting.domain.months import month_range, previous_month
from stroom_reporting.domain.status import (
    Figures,
    SpellVersion,
    late_changes,
    months_after_end,
    months_between,
    revisions,
)

MONTHS = month_range(202301, 202312)
START = datetime(2023, 1, 1, tzinfo=UTC)


@st.composite
def versions(draw: st.DrawFn) -> SpellVersion:
    start = draw(st.sampled_from(MONTHS))
    end = draw(st.one_of(st.none(), st.sampled_from([m for m in MONTHS if m >= start])))
    # Recorded on any day of 2023 and early 2024, at times that also fall on a month's first midnight.
    recorded_from = START + timedelta(days=draw(st.integers(0, 450)), hours=draw(st.sampled_from([0, 9])))
    lasted = draw(st.one_of(st.none(), st.integers(1, 200)))
    recorded_to = recorded_from + timedelta(days=lasted) if lasted else None
    unit = draw(st.sampled_from(["benefits", "persons"]))
    return ("GM0405", "PW", unit, start, end, recorded_from, recorded_to)


def _known(version: SpellVersion, at: datetime | None) -> bool:
    recorded_from, recorded_to = version[5], version[6]
    if at is None:
        return recorded_to is None
    return recorded_from <= at and (recorded_to is None or recorded_to > at)


def _figures(spells: list[SpellVersion], unit: str, month: int, at: datetime | None) -> Figures:
    def stock(day_month: int) -> int:
        return sum(
            1
            for s in spells
            if s[2] == unit and _known(s, at) and s[3] <= day_month and (s[4] is None or s[4] > day_month)
        )

    known = [s for s in spells if s[2] == unit and _known(s, at)]
    inflow = sum(1 for s in known if s[3] == month)
    outflow = sum(1 for s in known if s[4] == month)
    return stock(previous_month(month)), inflow, outflow, stock(month)


@settings(max_examples=300)
@given(
    st.lists(versions(), max_size=12),
    st.one_of(st.none(), st.integers(0, 500).map(lambda days: START + timedelta(days=days))),
    st.integers(0, 3),
)
def test_revisions_equal_figures_then_and_now(
    spells: list[SpellVersion], as_of: datetime | None, definitive_months: int
) -> None:
    # The months definitive on the report's day, each with the moment it became so.
    moments = {m: datetime.combine(months_after_end(m, definitive_months), time(), UTC) for m in MONTHS}
    since = {m: moment for m, moment in moments.items() if as_of is None or moment <= as_of}
    expected = {}
    for month, moment in since.items():
        for unit in ("benefits", "persons"):
            then, now = _figures(spells, unit, month, moment), _figures(spells, unit, month, as_of)
            difference = tuple(b - a for a, b in zip(then, now, strict=True))
            if any(difference):
                expected[("GM0405", "PW", unit, month)] = difference
    # What the query reads: changes at least definitive_months + 1 months after their month.
    changes = [
        c for c in late_changes([(s, 1) for s in spells]) if months_between(c[3], c[4]) > definitive_months
    ]
    assert revisions(changes, since, as_of) == expected
