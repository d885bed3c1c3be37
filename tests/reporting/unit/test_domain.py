"""Pure reporting logic: months, buckets, recorded-time merging, flows to stock, targets config."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stroom_contract.rows import recorded_rows
from stroom_platform.organisations import ConfigurationError, load_organisations
from stroom_reporting.domain import families, months
from stroom_reporting.domain.mutations import Flow, mutation_rows, period_totals, totals


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_month_arithmetic(day: date) -> None:
    month = months.month_of(day)
    assert months.first_day(month) <= day <= months.last_day(month)
    assert months.previous_month(months.next_month(month)) == month
    assert months.parse_month(months.format_month(month)) == month
    first, last = months.quarter_months(months.quarter_of(month))
    assert first <= month <= last


@pytest.mark.parametrize("text", ["2024-13", "2024-1", "24-01", "2024-00", ""])
def test_bad_months(text: str) -> None:
    with pytest.raises(ValueError, match="geen maand"):
        months.parse_month(text)


def test_buckets_at_their_edges() -> None:
    day = date(2024, 6, 30)
    assert families.duration_bucket(date(2024, 1, 1), day) == "0-6m"
    assert families.duration_bucket(date(2023, 12, 30), day) == "6-12m"
    assert families.duration_bucket(date(2023, 6, 30), day) == "1-2j"
    assert families.duration_bucket(date(2019, 7, 1), day) == "4-5j"
    assert families.duration_bucket(date(2019, 6, 30), day) == ">5j"
    assert families.age_bucket(date(1997, 7, 1), day) == "<27"
    assert families.age_bucket(date(1997, 6, 30), day) == "27-35"
    assert families.age_bucket(date(1969, 6, 30), day) == ">=55"
    assert families.top(__import__("collections").Counter({"b": 2, "a": 2, "c": 5}), 2) == [
        ("c", 5),
        ("a", 2),
    ]
    assert families.realisation(3, 8) == 37.5
    assert families.realisation(3, None) is None


versions = st.lists(
    st.tuples(st.integers(0, 50), st.one_of(st.none(), st.frozensets(st.integers(0, 4), max_size=3))),
    max_size=8,
    unique_by=lambda v: v[0],
)


@given(versions)
def test_recorded_rows_reproduce_every_version(raw: list[tuple[int, frozenset[int] | None]]) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    timed = [(base + timedelta(hours=h), state) for h, state in raw]
    rows = recorded_rows(timed, lambda state: tuple(state))
    for probe in range(-1, 52):
        at = base + timedelta(hours=probe)
        known = [s for t, s in timed if t <= at]
        expected = (
            set(max(((t, s) for t, s in timed if t <= at), key=lambda v: v[0])[1] or ()) if known else set()
        )
        got = [r.row for r in rows if r.recorded_from <= at and (r.recorded_to is None or r.recorded_to > at)]
        assert sorted(got) == sorted(expected)


flows = st.lists(
    st.builds(
        Flow,
        st.sampled_from(["GM0405", "GM0420"]),
        st.sampled_from(["PW", "IOAW"]),
        st.just("benefits"),
        st.sampled_from(months.month_range(202301, 202406)),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    max_size=40,
)


@given(flows)
def test_stock_identity_in_rows_and_totals(items: list[Flow]) -> None:
    keys = [(m, r, "benefits") for m in ("GM0405", "GM0420") for r in ("PW", "IOAW")]
    rows = mutation_rows(keys, items, 202401, 202406)
    every = [*rows, *period_totals(rows)] + [row for group in totals(rows).values() for row in group]
    for row in every:
        assert row.end == row.begin + row.inflow - row.outflow
    for key in keys:
        opening = sum(
            f.inflow - f.outflow
            for f in items
            if (f.municipality, f.regulation) == key[:2] and f.month < 202401
        )
        first = next(r for r in rows if (r.municipality, r.regulation, r.unit) == key and r.month == 202401)
        assert first.begin == opening


def test_targets_are_validated(tmp_path: Path) -> None:
    config = load_organisations()
    westfriesland = config.organisation("werksaam-westfriesland")
    assert westfriesland is not None
    target = westfriesland.sheltered_work_target("GM0405", 2024)
    assert target is not None
    assert target.total == target.taakstelling + target.additional
    bad = tmp_path / "organisations.yaml"
    bad.write_text(
        "version: 1\norganisations:\n  - code: x\n    name: X\n"
        "    municipalities: [{code: GM0405, name: Hoorn}]\n"
        "    targets:\n      sheltered_work: [{municipality: GM0420, year: 2024, taakstelling: 3}]\n"
    )
    with pytest.raises(ConfigurationError, match="GM0420, dat geen gemeente van x is"):
        load_organisations(bad)
    bad.write_text(
        bad.read_text().replace("GM0420, year: 2024, taakstelling: 3", "GM0405, year: 2024, taakstelling: -1")
    )
    with pytest.raises(ConfigurationError, match="taakstelling: moet minstens 0"):
        load_organisations(bad)


gate_counts = (
    st.builds(families.GateCounts, *(st.integers(min_value=0, max_value=50) for _ in range(4))) | st.none()
)


@given(st.lists(gate_counts, max_size=8), st.lists(gate_counts, max_size=8))
def test_gate_totals_add_up_and_share_by_one_rule(left: list, right: list) -> None:
    whole = families.GateCounts.total([*left, *right])
    # Summed in parts or at once: the same counts (so months and municipalities may be grouped).
    parts = families.GateCounts.total([families.GateCounts.total(left), families.GateCounts.total(right)])
    assert whole == parts
    present = [c for c in [*left, *right] if c is not None]
    assert whole.received == sum(c.received for c in present)
    decided = whole.granted + whole.rejected + whole.withdrawn
    if decided:
        assert whole.share_not_granted == round(100 * (whole.rejected + whole.withdrawn) / decided, 1)
    else:
        assert whole.share_not_granted is None
    assert families.GateCounts.total([]) == families.GateCounts(0, 0, 0, 0)
