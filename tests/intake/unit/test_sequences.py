"""`sequence` compared as an integer only when it is one that fits the column."""

from __future__ import annotations

import pytest

from stroom_intake.domain.sequences import SourceSequence, numeric_sequence


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("1", 1),
        ("0042", 42),
        ("999999999999999999", 999_999_999_999_999_999),
        ("1000000000000000000", None),  # 19 digits: more than a BIGINT holds
        ("-3", None),
        ("4.0", None),
        ("x-1", None),
        ("١٢", None),  # digits, but not ASCII ones
        (None, None),
    ],
)
def test_numeric_sequence(value: str | None, number: int | None) -> None:
    assert numeric_sequence(value) == number


def test_missing_counts_the_numbers_between_lowest_and_highest_not_received() -> None:
    seen = SourceSequence("s", lowest=3, highest=12, received=7, gaps=((5, 6), (9, 9)))
    assert seen.missing == 3
    assert seen.document()["gaps"] == [{"from": 5, "to": 6}, {"from": 9, "to": 9}]
