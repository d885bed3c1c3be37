"""CSV and XLSX downloads of report tables, with Dutch headings, laid out like a board report."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from stroom_reporting.reports import HEADINGS, LABELS, Report, ReportTable

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TITLE = Font(bold=True, size=14)
_HEADER = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")


def _cell(column: str, value: Any) -> Any:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if column in ("unit", "regulation") and isinstance(value, str):
        return "Totaal" if value == "*" else LABELS[column].get(value, value)
    if column == "municipality" and value == "*":
        return "Totaal"
    return value


def to_csv(table: ReportTable) -> str:
    """Semicolon-separated with a byte order mark: what Dutch Excel opens without a wizard."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([HEADINGS[c] for c in table.columns])
    for row in table.rows:
        writer.writerow([_cell(c, row[c]) for c in table.columns])
    return buffer.getvalue()


def _write_section(sheet: Any, table: ReportTable, rows: list[dict[str, Any]]) -> None:
    sheet.append([])
    sheet.append([table.title])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append([HEADINGS[c] for c in table.columns])
    for index in range(1, len(table.columns) + 1):
        header = sheet.cell(sheet.max_row, index)
        header.font, header.fill = _HEADER, _HEADER_FILL
        header.alignment = Alignment(horizontal="center")
    for row in rows:
        sheet.append([_cell(c, row[c]) for c in table.columns])


def to_xlsx(report: Report) -> bytes:
    """A sheet per municipality with its rows of every table, and a totals sheet."""
    per_sheet: dict[str, list[tuple[ReportTable, list[dict[str, Any]]]]] = defaultdict(list)
    names = report.scope.names
    for table in report.tables:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in table.rows:
            code = row.get("municipality", "*")
            grouped[names.get(code, "Totaal")].append(row)
        for sheet_name, rows in grouped.items():
            per_sheet[sheet_name].append((table, rows))
        if not table.rows:
            per_sheet["Totaal"].append((table, []))
    workbook = Workbook()
    workbook.remove(workbook.active)
    order = [names[m] for m in report.scope.municipalities] + ["Totaal"]
    period = ", ".join(f"{k}: {v}" for k, v in report.period.items())
    for sheet_name in [n for n in order if n in per_sheet]:
        sheet = workbook.create_sheet(sheet_name[:31])
        sheet.append([f"{report.title} — {sheet_name}"])
        sheet.cell(1, 1).font = _TITLE
        known = f"stand per {report.as_of.isoformat()}" if report.as_of else "actuele stand"
        sheet.append([f"{report.scope.organisation.name} · {period} · {known}"])
        for table, rows in per_sheet[sheet_name]:
            _write_section(sheet, table, rows)
        for index in range(1, sheet.max_column + 1):
            sheet.column_dimensions[get_column_letter(index)].width = 16
        sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
