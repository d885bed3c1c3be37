"""Stored spell rows brought in line with a new fact's rows by the fewest writes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from stroom_reporting.repository import row_changes

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
