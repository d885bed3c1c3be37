"""The board report's layout: months as columns with Dutch names, the lines boards print."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from stroom_reporting.domain.families import realisation
from stroom_reporting.domain.months import month_range
from stroom_reporting.domain.mutations import MutationRow

MONTH_ABBREVIATIONS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
MONTH_NAMES = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
# The order boards print the regulation table in.
REGULATION_ORDER = ("BBZ", "IOAW", "IOAZ", "PW")
# A board report is read as a year (or part of one) with a month per column.
MAX_MONTHS = 12
LINES = (
    ("begin", "Beginstand"),
    ("inflow", "Instroom"),
    ("outflow", "Uitstroom"),
    ("end", "Eindstand"),
)
STOCK_LINES = frozenset({"begin", "end"})
NET_CHANGE_NOTE = (
    "Totaal bij Beginstand en Eindstand: de netto mutatie over de periode"
    " (Eindstand laatste maand min Beginstand eerste maand)."
)


def month_name(month: int) -> str:
    """202501 -> 'januari 2025'."""
    return f"{MONTH_NAMES[month % 100 - 1]} {month // 100}"


def day_label(day: date) -> str:
    """'30 juni 2025'."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def period_label(first: int, last: int) -> str:
    """The subtitle boards print: 'periode januari 2025 t/m december 2025'."""
    return f"periode {month_name(first)} t/m {month_name(last)}"


def column_labels(first: int, last: int) -> list[str]:
    """'jan' … 'dec'; with the year added when the period spans more than one."""
    spans_years = first // 100 != last // 100
    return [
        f"{MONTH_ABBREVIATIONS[m % 100 - 1]} {m // 100}" if spans_years else MONTH_ABBREVIATIONS[m % 100 - 1]
        for m in month_range(first, last)
    ]


class BoardLine(NamedTuple):
    code: str
    label: str
    values: tuple[int, ...]
    total: int


def mutation_lines(rows: Sequence[MutationRow]) -> list[BoardLine]:
    """One key's rows in month order as Beginstand / Instroom / Uitstroom / Eindstand. The total
    of a flow is its sum; the total of a stock is the net change over the period, as boards
    print it there."""
    if not rows:
        return [BoardLine(code, label, (), 0) for code, label in LINES]
    net_change = rows[-1].end - rows[0].begin
    lines = []
    for code, label in LINES:
        values = tuple(getattr(row, code) for row in rows)
        lines.append(BoardLine(code, label, values, net_change if code in STOCK_LINES else sum(values)))
    return lines


class ShelteredWork(NamedTuple):
    """Beschut werk of one municipality (or the total) against its target in a year."""

    taakstelling: float | None
    additional: float | None
    realised: int

    @property
    def target(self) -> float | None:
        if self.taakstelling is None:
            return None
        return self.taakstelling + (self.additional or 0)

    @property
    def realisation_pct(self) -> float | None:
        return realisation(self.realised, self.target)


def sheltered_total(rows: Sequence[ShelteredWork]) -> ShelteredWork:
    """The totals row; the targets of municipalities without one count as nothing."""
    with_target = [r for r in rows if r.taakstelling is not None]
    return ShelteredWork(
        sum(r.taakstelling or 0 for r in with_target) if with_target else None,
        sum(r.additional or 0 for r in with_target) if with_target else None,
        sum(r.realised for r in rows),
    )
