"""The board report's layout (Dutch month names, the four lines and their totals, beschut werk)
and how final a month's figures are."""

from __future__ import annotations

from datetime import date

import pytest

from stroom_reporting.domain import board, months, status
from stroom_reporting.domain.mutations import MutationRow


def test_dutch_periods_and_columns() -> None:
    assert board.period_label(202501, 202512) == "periode januari 2025 t/m december 2025"
    assert board.column_labels(202501, 202503) == ["jan", "feb", "mrt"]
    assert board.column_labels(202411, 202502) == ["nov 2024", "dec 2024", "jan 2025", "feb 2025"]


def test_lines_total_flows_and_the_net_change_of_stocks() -> None:
    rows = [
        MutationRow("GM0405", "*", "benefits", 202501, 100, 7, 3, 104),
        MutationRow("GM0405", "*", "benefits", 202502, 104, 2, 10, 96),
    ]
    lines = {line.label: line for line in board.mutation_lines(rows)}
    assert list(lines) == ["Beginstand", "Instroom", "Uitstroom", "Eindstand"]
    assert lines["Beginstand"].values == (100, 104)
    assert lines["Eindstand"].values == (104, 96)
    assert (lines["Instroom"].total, lines["Uitstroom"].total) == (9, 13)
    assert lines["Beginstand"].total == lines["Eindstand"].total == -4


def test_sheltered_work_total_and_realisation() -> None:
    hoorn = board.ShelteredWork(19, 2, 14)
    none = board.ShelteredWork(None, None, 3)
    assert (hoorn.target, hoorn.realisation_pct) == (21, 66.7)
    assert (none.target, none.realisation_pct) == (None, None)
    total = board.sheltered_total([hoorn, none])
    assert (total.taakstelling, total.additional, total.target, total.realised) == (19, 2, 21, 17)


def test_a_months_status_moves_as_the_report_date_passes_the_thresholds() -> None:
    def on(day: date) -> str:
        return status.month_status(202501, day, 2, 5)

    assert on(date(2025, 1, 15)) == on(date(2025, 3, 31)) == "voorlopig"
    assert on(date(2025, 4, 1)) == on(date(2025, 6, 30)) == "nader voorlopig"
    assert on(date(2025, 7, 1)) == on(date(2030, 1, 1)) == "definitief"
    assert status.month_status(202511, date(2026, 1, 31), 2, 5) == "voorlopig"
    assert status.month_status(202511, date(2026, 2, 1), 2, 5) == "nader voorlopig"
    assert status.month_status(202511, date(2026, 5, 1), 2, 5) == "definitief"
    assert status.month_status(202501, date(2025, 2, 1), 0, 0) == "definitief"
    assert status.least_final(["definitief", "voorlopig", "nader voorlopig"]) == "voorlopig"


def test_named_periods() -> None:
    assert months.parse_period("2025") == (202501, 202512)
    assert months.parse_period("2025-H1") == (202501, 202506)
    assert months.parse_period("2025-H2") == (202507, 202512)
    assert months.parse_period("2025-Q2") == months.parse_period("2025-K2") == (202504, 202506)
    assert months.parse_period("2025-06") == (202506, 202506)
    for wrong in ("2025-H3", "2025-Q5", "2025-13", "25", "2025-", "2025-06-01", ""):
        with pytest.raises(ValueError, match="geen periode"):
            months.parse_period(wrong)
