"""Stored spell rows brought in line with a new fact's rows by the fewest writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_reporting.domain.mutations import flow_deltas
from stroom_reporting.domain.spells import row_changes
from stroom_reporting.domain.status import SpellVersion, late_changes, months_between
from stroom_reporting.repository import MonthKey, _add_flows, _late_flow_rows

MOMENTS = st.sampled_from([None, *(datetime(2025, 1, d, tzinfo=UTC) for d in (1, 2, 3))])
Row = tuple[str, int, int, datetime | None]


def _identity(row: Row) -> tuple[str, int, int]:
    return row[0], row[1], row[2]


# (entity, value, recorded_from, recorded_to): small domains, so rows often coincide.
ROWS = st.lists(
    st.tuples(st.sampled_from("ab"), st.integers(0, 2), st.sampled_from([1, 2]), MOMENTS),
    unique_by=_identity,
    max_size=8,
)


@given(ROWS, ROWS)
def test_changes_turn_the_stored_rows_into_the_new_ones(old: list[Row], new: list[Row]) -> None:
    stored = dict(enumerate(old))
    changes = row_changes([(i, *row) for i, row in stored.items()], new)
    for i, _ in changes.deleted:
        del stored[i]
    for i, recorded_to, row in changes.closed:
        assert stored[i] == row
        stored[i] = (*row[:-1], recorded_to)
    result = [*stored.values(), *changes.inserted]
    assert sorted(result, key=repr) == sorted(new, key=repr)
    # Rows equal in all but recorded_to are kept (their id, their place in the indexes).
    kept = {_identity(row) for row in old} & {_identity(row) for row in new}
    assert len(changes.inserted) == len(new) - len(kept)
    assert len(changes.deleted) == len(old) - len(kept)
    assert all(row[-1] != to for _, to, row in changes.closed)


# Count spell rows (SPELL_COLUMNS order), varied only where flows and lateness depend on them.
# Small domains, so that stored and new rows often coincide but for recorded_to.
RECORDED = st.sampled_from([datetime(2024, 11, 5, tzinfo=UTC), datetime(2025, 3, 9, tzinfo=UTC)])
COUNT_ROWS = st.lists(
    st.tuples(
        st.just("benefit:a"),
        st.sampled_from(["benefits", "persons"]),
        st.sampled_from(["GM0405", "GM0420"]),
        st.just("PW"),
        st.sampled_from([202410, 202502]),
        st.sampled_from([None, 202412]),
        RECORDED,
        st.one_of(st.none(), RECORDED, st.just(datetime(2025, 1, 2, tzinfo=UTC))),
    ).map(
        lambda r: (r[0], r[1], r[2], r[3], None, None, r[4], r[5], None, None, None, None, None, r[6], r[7])
    ),
    unique_by=lambda row: row[:-1],
    max_size=6,
)


def _net(changes: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    summed: dict[tuple[Any, ...], list[int]] = {}
    for *key, inflow, outflow in changes:
        acc = summed.setdefault(tuple(key), [0, 0])
        acc[0] += inflow
        acc[1] += outflow
    return {key: tuple(v) for key, v in summed.items() if any(v)}


@settings(max_examples=300)
@given(COUNT_ROWS, COUNT_ROWS)
def test_flow_changes_of_row_changes_are_those_of_the_versions_before_and_after(
    old: list[tuple[Any, ...]], new: list[tuple[Any, ...]]
) -> None:
    changes = row_changes([(i, *row) for i, row in enumerate(old)], new)

    def version(row: tuple[Any, ...]) -> SpellVersion:
        return (row[2], row[3], row[1], row[6], row[7], row[13], row[14])

    # Every stored version taken out and every new one put in: what the rows' changes must add up to.
    late = late_changes([*((version(r), -1) for r in old), *((version(r), 1) for r in new)])
    assert _net(row[:4] + row[4:5] + row[6:] for row in _late_flow_rows(changes)) == _net(late)
    assert all(row[5] == months_between(row[3], row[4]) for row in _late_flow_rows(changes))

    def current(rows: list[tuple[Any, ...]], sign: int) -> list[tuple[Any, ...]]:
        spells = [(r[2], r[3], r[1], r[6], r[7]) for r in rows if r[14] is None]
        return [(*key, *flows) for key, flows in flow_deltas(spells, sign).items()]

    deltas: dict[MonthKey, list[int]] = {}
    _add_flows(deltas, changes)
    assert _net((*key, *v) for key, v in deltas.items()) == _net([*current(old, -1), *current(new, 1)])
