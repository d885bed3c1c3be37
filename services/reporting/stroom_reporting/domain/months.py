"""Months as integers YYYYMM, quarters, and their stock dates (last days)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache, lru_cache

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NAMED = re.compile(r"^(\d{4})(?:-(?:H([12])|[QK]([1-4])|(0[1-9]|1[0-2])))?$")


# A restate asks for the month of each of a benefit's days at every step; a bounded cache, as the
# days are the facts'.
@lru_cache(maxsize=1 << 16)
def month_of(day: date) -> int:
    return day.year * 100 + day.month


def parse_month(text: str) -> int:
    """`2024-03` -> 202403; ValueError for anything else."""
    match = _MONTH.match(text)
    if not match:
        raise ValueError(f"{text!r} is geen maand; een maand is JJJJ-MM, bijvoorbeeld 2025-03")
    return int(match.group(1)) * 100 + int(match.group(2))


def format_month(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def next_month(month: int) -> int:
    return month + 89 if month % 100 == 12 else month + 1


def previous_month(month: int) -> int:
    return month - 89 if month % 100 == 1 else month - 1


@cache  # as last_day
def first_day(month: int) -> date:
    return date(month // 100, month % 100, 1)


@cache  # the KPI restate asks for the same few hundred months' ends over and over
def last_day(month: int) -> date:
    return first_day(next_month(month)) - timedelta(days=1)


def month_range(first: int, last: int) -> list[int]:
    """Every month from `first` to `last` inclusive (empty when first > last)."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def quarter_of(month: int) -> int:
    """202405 -> 20242 (year * 10 + quarter)."""
    return (month // 100) * 10 + (month % 100 - 1) // 3 + 1


def quarter_months(quarter: int) -> tuple[int, int]:
    """First and last month of a quarter."""
    year, number = divmod(quarter, 10)
    return year * 100 + number * 3 - 2, year * 100 + number * 3


def format_quarter(quarter: int) -> str:
    return f"{quarter // 10}-K{quarter % 10}"


def parse_period(text: str) -> tuple[int, int]:
    """A named period as its first and last month: `2025` (the year), `2025-H1` (a half year),
    `2025-Q2` or `2025-K2` (a quarter), `2025-06` (a month). ValueError for anything else."""
    match = _NAMED.match(text)
    if not match:
        raise ValueError(f"{text!r} is geen periode; gebruik bijvoorbeeld 2025, 2025-H1, 2025-Q2 of 2025-06")
    year, half, quarter, month = match.groups()
    base = int(year) * 100
    if half:
        return base + 6 * int(half) - 5, base + 6 * int(half)
    if quarter:
        return quarter_months(int(year) * 10 + int(quarter))
    if month:
        return base + int(month), base + int(month)
    return base + 1, base + 12
