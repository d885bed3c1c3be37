"""CSV and XLSX downloads of report tables, with Dutch headings, laid out like a board report."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from stroom_platform.spreadsheets import append_xlsx_row, csv_cell, xlsx_cell
from stroom_reporting.domain.board import NET_CHANGE_NOTE, day_label, period_label
from stroom_reporting.domain.months import parse_month
from stroom_reporting.domain.status import DEFINITIVE
from stroom_reporting.service.reports import LABELS, Report, ReportTable

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TITLE = Font(bold=True, size=14)
_HEADER = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")


def _cell(column: str, value: Any) -> Any:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    # A regulation keeps its code: its label has a column of its own (regulation_label).
    if column in ("municipality", "regulation", "unit") and value == "*":
        return "Totaal"
    if column == "unit" and isinstance(value, str):
        return LABELS[column].get(value, value)
    return value


def to_csv(table: ReportTable) -> str:
    """Semicolon-separated with a byte order mark: what Dutch Excel opens without a wizard."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_cell(table.heading(c)) for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(_cell(c, row[c])) for c in table.columns])
    return buffer.getvalue()


def _write_section(sheet: Any, table: ReportTable, rows: list[dict[str, Any]]) -> None:
    sheet.append([])
    append_xlsx_row(sheet, [table.title])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    append_xlsx_row(sheet, [table.heading(c) for c in table.columns])
    for index in range(1, len(table.columns) + 1):
        header = sheet.cell(sheet.max_row, index)
        header.font, header.fill = _HEADER, _HEADER_FILL
        header.alignment = Alignment(horizontal="center")
    for row in rows:
        append_xlsx_row(sheet, [_cell(c, row[c]) for c in table.columns])


def to_xlsx(report: Report) -> bytes:
    """A sheet per municipality with its rows of every table, and a totals sheet; the board
    report laid out as boards print it."""
    if report.family == "board":
        return board_workbook(report)
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
    period = period_text(report.period)
    for sheet_name in [n for n in order if n in per_sheet]:
        sheet = workbook.create_sheet(sheet_name[:31])
        append_xlsx_row(sheet, [f"{report.title} — {sheet_name}"])
        sheet.cell(1, 1).font = _TITLE
        append_xlsx_row(sheet, [f"{report.scope.organisation.name} · {period} · {_known(report)}"])
        for table, rows in per_sheet[sheet_name]:
            _write_section(sheet, table, rows)
        for index in range(1, sheet.max_column + 1):
            sheet.column_dimensions[get_column_letter(index)].width = 16
        sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


_COUNT = "#,##0"
_NET_CHANGE = "+#,##0;-#,##0;0"
_PLACES = "#,##0.##"
_PERCENT = "0.0"
_BLOCK_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN_TOP = Border(top=Side(style="thin"))
_PROVISIONAL = Font(italic=True, color="595959")
OVERVIEW_SHEET = "Overzicht aantal uitkeringen"
_SHELTERED = {
    "taakstelling": _PLACES,
    "additional": _PLACES,
    "target": _PLACES,
    "realised": _COUNT,
    "realisation_pct": _PERCENT,
}


def _known(report: Report) -> str:
    return f"zoals bekend op {report.as_of.isoformat()}" if report.as_of else "actuele stand"


def period_text(period: dict[str, str]) -> str:
    """A report's period as its subtitle says it: 'periode januari 2025 t/m december 2025',
    'peildatum 30 juni 2025', 'kwartaal 2025-K2' or 'kwartalen 2025-K1 t/m 2025-K4'."""
    if "stock_date" in period:
        return f"peildatum {day_label(date.fromisoformat(period['stock_date']))}"
    if "quarter" in period:
        return f"kwartaal {period['quarter']}"
    if "from" not in period or "to" not in period:
        return ", ".join(f"{key} {value}" for key, value in period.items())
    first, last = period["from"], period["to"]
    if "-K" in first:
        return f"kwartalen {first} t/m {last}"
    return period_label(parse_month(first), parse_month(last))


def _subtitle(report: Report) -> str:
    period = period_text(report.period)
    return f"{report.scope.organisation.name} · {period} · peildatum: einde van elke maand · {_known(report)}"


def _header(sheet: Any, row: int, values: list[Any]) -> None:
    for column, value in enumerate(values, 1):
        cell = xlsx_cell(sheet, row, column, value)
        cell.font, cell.fill = _HEADER, _HEADER_FILL
        cell.alignment = Alignment(horizontal="left" if column == 1 else "right", wrap_text=True)


def _numbers(sheet: Any, row: int, label: str, values: list[Any], fmt: str = _COUNT) -> None:
    xlsx_cell(sheet, row, 1, label)
    for column, value in enumerate(values, 2):
        xlsx_cell(sheet, row, column, value).number_format = fmt


def _titles(sheet: Any, report: Report, title: str) -> None:
    xlsx_cell(sheet, 1, 1, title).font = _TITLE
    xlsx_cell(sheet, 2, 1, _subtitle(report)).font = Font(italic=True)


def _page_setup(sheet: Any, last_row: int, last_column: int) -> None:
    """Landscape A4, the whole sheet on one page, headers frozen, as boards print it."""
    sheet.freeze_panes = "B6"
    sheet.column_dimensions["A"].width = 30
    for column in range(2, last_column + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 13
    sheet.print_area = f"A1:{get_column_letter(last_column)}{last_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True


def _status_note(report: Report) -> str:
    thresholds = report.scope.organisation.figure_status
    return (
        f"Cursief: cijfers die nog kunnen wijzigen. Een maand is voorlopig tot"
        f" {thresholds.provisional_months} maanden na afloop, nader voorlopig tot"
        f" {thresholds.definitive_months} maanden, daarna definitief; herzien: gewijzigd nadat de"
        " maand definitief werd."
    )


def _status_row(
    sheet: Any,
    tables: dict[str, ReportTable],
    months: list[str],
    revised_here: Callable[[dict[str, Any]], bool],
    first_column: int = 2,
) -> list[int]:
    """Row 5: each month's status, and where a definitive month was revised. Gives the columns
    of the months that are not definitive yet."""
    statuses = {r["month"]: r["status"] for r in tables["status"].rows}
    revised = {r["month"] for r in tables["revisions"].rows if revised_here(r)}
    xlsx_cell(sheet, 5, 1, "Status").font = Font(italic=True)
    for column, month in enumerate(months, first_column):
        text = statuses[month] + (", herzien" if month in revised else "")
        cell = xlsx_cell(sheet, 5, column, text)
        cell.font = Font(italic=True, size=9, bold=month in revised)
        cell.alignment = Alignment(horizontal="right", wrap_text=True)
    sheet.row_dimensions[5].height = 24
    return [c for c, m in enumerate(months, first_column) if statuses[m] != DEFINITIVE]


def _provisional(sheet: Any, rows: list[int], columns: list[int]) -> None:
    """Figures that may still change in grey italics."""
    for row in rows:
        for column in columns:
            sheet.cell(row, column).font = _PROVISIONAL


def _board_municipality(
    sheet: Any, report: Report, municipality: str, tables: dict[str, ReportTable]
) -> None:
    mutations, wage_subsidy = tables["mutations"], tables["wage_subsidy"]
    months = [c for c in mutations.columns if c in mutations.headings]
    _titles(sheet, report, f"{report.title} — {report.scope.names[municipality]}")
    _header(sheet, 4, ["Maand", *(mutations.heading(m) for m in months), "Totaal"])
    provisional = _status_row(sheet, tables, months, lambda r: r["municipality"] == municipality)
    row = 6
    figures = []
    for unit, title in (("benefits", "Aantal uitkeringen"), ("persons", "Personen")):
        for column in range(1, len(months) + 3):
            sheet.cell(row, column).fill = _BLOCK_FILL
        xlsx_cell(sheet, row, 1, title).font = Font(bold=True)
        row += 1
        for line in mutations.rows:
            if (line["municipality"], line["unit"]) != (municipality, unit):
                continue
            _numbers(sheet, row, line["line_label"], [line[m] for m in months])
            figures.append(row)
            total = xlsx_cell(sheet, row, len(months) + 2, line["total"])
            total.font = Font(bold=True)
            total.number_format = _NET_CHANGE if line["line"] in ("begin", "end") else _COUNT
            row += 1
        row += 1
    xlsx_cell(sheet, row, 1, NET_CHANGE_NOTE).font = Font(italic=True, size=9)
    xlsx_cell(sheet, row + 1, 1, _status_note(report)).font = Font(italic=True, size=9)
    row += 3
    stocks = [c for c in wage_subsidy.columns if c in wage_subsidy.headings]
    _header(sheet, row, ["Loonkostensubsidie", *(wage_subsidy.heading(c) for c in stocks)])
    row += 1
    lks = next(r for r in wage_subsidy.rows if r["municipality"] == municipality)
    _numbers(sheet, row, "Plaatsingen met loonkostensubsidie", [lks[c] for c in stocks])
    _provisional(sheet, figures, provisional)
    _provisional(sheet, [row], [c + 1 for c in provisional])
    row += 2
    sheltered = tables["sheltered_work"]
    year = sheltered.rows[0]["year"]
    _header(
        sheet,
        row,
        [f"Beschut werk {year}", *(sheltered.heading(c) for c in _SHELTERED)],
    )
    sheet.row_dimensions[row].height = 30  # two lines: the headings are wider than a month column
    for found in sheltered.rows:
        if found["municipality"] not in (municipality, "*"):
            continue
        row += 1
        _numbers(sheet, row, found["municipality_name"], [found[c] for c in _SHELTERED])
        for column, key in enumerate(_SHELTERED, 2):
            sheet.cell(row, column).number_format = _SHELTERED[key]
        if found["municipality"] == "*":
            for column in range(1, 7):
                cell = sheet.cell(row, column)
                cell.font, cell.border = Font(bold=True), _THIN_TOP
    _page_setup(sheet, row, len(months) + 2)


def _board_overview(sheet: Any, report: Report, tables: dict[str, ReportTable]) -> None:
    regulations = tables["regulations"]
    stocks = [c for c in regulations.columns if c in regulations.headings and c != "regulation"]
    _titles(sheet, report, f"{report.scope.organisation.name} — {OVERVIEW_SHEET}")
    _header(sheet, 4, ["Regeling", *(regulations.heading(c) for c in stocks)])
    provisional = _status_row(
        sheet, tables, stocks[1:], lambda r: r["municipality"] == "*" and r["unit"] == "benefits", 3
    )
    row = 5
    for found in regulations.rows:
        row += 1
        label = "Totaal" if found["regulation"] == "*" else found["regulation"]
        _numbers(sheet, row, label, [found[c] for c in stocks])
        _provisional(sheet, [row], provisional)
        if found["regulation"] == "*":
            for column in range(1, len(stocks) + 2):
                cell = sheet.cell(row, column)
                cell.font, cell.border = Font(bold=True, italic=column in provisional), _THIN_TOP
    _page_setup(sheet, row, len(stocks) + 1)


def board_workbook(report: Report) -> bytes:
    """The organisation's regulation table first, then a sheet per municipality."""
    tables = {t.name: t for t in report.tables}
    workbook = Workbook()
    _board_overview(workbook.active, report, tables)
    workbook.active.title = OVERVIEW_SHEET
    for municipality in report.scope.municipalities:
        sheet = workbook.create_sheet(report.scope.names[municipality][:31])
        _board_municipality(sheet, report, municipality, tables)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
