"""Spreadsheet cells that cannot become formulas (CSV/formula injection, OWASP).

Every CSV or XLSX export writes its values through these, so that a ref or reason a case system
sent (`=HYPERLINK(…)`, `@SUM(…)`) opens as the text it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# What spreadsheet programs read as the start of a formula, also after a tab or carriage return.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """OWASP's advice for CSV: a leading apostrophe, which spreadsheets show as text."""
    return "'" + value if looks_like_formula(value) else value


def _as_text(cell: Any) -> Any:
    if looks_like_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def xlsx_cell(sheet: Any, row: int, column: int, value: Any) -> Any:
    """`sheet.cell(row, column, value)`, a formula-looking string stored as a text cell marked
    quotePrefix (openpyxl would store it as a formula)."""
    return _as_text(sheet.cell(row, column, value))


def append_xlsx_row(sheet: Any, values: Iterable[Any]) -> None:
    """`sheet.append`, formula-looking strings stored as `xlsx_cell` stores them."""
    row = list(values)
    sheet.append(row)
    for column in range(1, len(row) + 1):
        _as_text(sheet.cell(sheet.max_row, column))
