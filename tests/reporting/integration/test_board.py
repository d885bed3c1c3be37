"""The board workbook: every figure found by its label equals the API's, and it prints one page
per sheet when LibreOffice converts it to PDF."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader

ORG = "werksaam-westfriesland"
PERIOD = {"organisation": ORG, "from": "2024-01", "to": "2024-12"}
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
NAMES = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
LINES = {"Beginstand": "begin", "Instroom": "inflow", "Uitstroom": "outflow", "Eindstand": "end"}


def _rows(sheet: Worksheet) -> list[list[Any]]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


def _block(rows: list[list[Any]], title: str, labels: list[str]) -> dict[str, list[Any]]:
    """The rows labelled `labels` that follow the row whose first cell is `title`."""
    start = next(i for i, row in enumerate(rows) if row[0] == title)
    found: dict[str, list[Any]] = {}
    for row in rows[start + 1 :]:
        if row[0] in labels and row[0] not in found:
            found[row[0]] = row[1:]
        if len(found) == len(labels):
            return found
    raise AssertionError(f"{title}: {set(labels) - set(found)} not found")


def _header(rows: list[list[Any]], first: str) -> list[Any]:
    return next(row for row in rows if row[0] == first)


async def _json(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def _workbook(client: httpx.AsyncClient) -> bytes:
    response = await client.get("/v1/reports/board", params={**PERIOD, "format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    return response.content


async def test_board_workbook_holds_the_api_figures(client: httpx.AsyncClient) -> None:
    workbook = load_workbook(io.BytesIO(await _workbook(client)))
    monthly = await _json(client, "/v1/reports/monthly", **PERIOD)
    placements = await _json(client, "/v1/reports/placements", **{**PERIOD, "from": "2023-12"})
    municipalities = {m["code"]: m["name"] for m in monthly["municipalities"]}
    assert workbook.sheetnames == ["Overzicht aantal uitkeringen", *municipalities.values()]

    per_municipality = {
        (r["municipality"], r["unit"], r["month"]): r
        for r in monthly["tables"]["municipality_totals"]["rows"]
    }
    lks = {
        (r["municipality"], r["month"]): r["active"]
        for r in placements["tables"]["placements"]["rows"]
        if r["kind"] == "wage_subsidy"
    }
    december = [r for r in placements["tables"]["sheltered_work"]["rows"] if r["month"] == "2024-12"]
    sheltered = {r["municipality"]: r for r in december}
    checked = 0
    for code, name in municipalities.items():
        sheet = workbook[name]
        rows = _rows(sheet)
        assert _header(rows, "Maand")[1:14] == [*NAMES, "Totaal"]
        for title, unit in (("Aantal uitkeringen", "benefits"), ("Personen", "persons")):
            block = _block(rows, title, list(LINES))
            for label, measure in LINES.items():
                expected = [per_municipality[(code, unit, month)][measure] for month in MONTHS]
                assert block[label][:12] == expected, (name, title, label)
                checked += sum(1 for v in expected if v)
            first = per_municipality[(code, unit, MONTHS[0])]
            last = per_municipality[(code, unit, MONTHS[-1])]
            assert block["Instroom"][12] == sum(block["Instroom"][:12])
            assert block["Uitstroom"][12] == sum(block["Uitstroom"][:12])
            assert block["Beginstand"][12] == block["Eindstand"][12] == last["end"] - first["begin"]
        assert any("netto mutatie over de periode" in str(row[0]) for row in rows)

        header = _header(rows, "Loonkostensubsidie")
        assert header[1:14] == ["Begin jan", *(f"Eind {n}" for n in NAMES)]
        ends = _block(rows, "Loonkostensubsidie", ["Plaatsingen met loonkostensubsidie"])
        expected_lks = [lks[(code, m)] for m in ["2023-12", *MONTHS]]
        assert ends["Plaatsingen met loonkostensubsidie"][:13] == expected_lks

        beschut = _header(rows, "Beschut werk 2024")
        assert beschut[1:6] == [
            "Taakstelling",
            "Additionele plekken",
            "Totaal",
            "Gerealiseerd",
            "Realisatie %",
        ]
        mine = _block(rows, "Beschut werk 2024", [name])[name]
        assert (mine[2], mine[3], mine[4]) == (
            sheltered[code]["target"],
            sheltered[code]["active"],
            sheltered[code]["realisation_pct"],
        )
        total = _block(rows, "Beschut werk 2024", ["Totaal"])["Totaal"]
        assert total[3] == sum(r["active"] for r in sheltered.values())
        assert total[2] == sum(r["target"] or 0 for r in sheltered.values())

        assert sheet.freeze_panes == "B6"
        assert {s.split(",")[0] for s in _header(rows, "Status")[1:13]} == {"definitief"}
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 1)
        assert sheet.print_area is not None
        assert sheet.cell(7, 2).number_format == "#,##0"
    assert checked > 100  # the history is not empty: most of these figures are not zero

    overview = _rows(workbook["Overzicht aantal uitkeringen"])
    assert _header(overview, "Regeling")[1:14] == ["Begin jan", *(f"Eind {n}" for n in NAMES)]
    per_regulation = {
        (r["regulation"], r["month"]): r
        for r in monthly["tables"]["regulation_totals"]["rows"]
        + monthly["tables"]["organisation_totals"]["rows"]
        if r["unit"] == "benefits"
    }
    table = _block(overview, "Regeling", ["BBZ", "IOAW", "IOAZ", "PW", "Totaal"])
    assert [row[0] for row in overview if row[0] in table] == ["BBZ", "IOAW", "IOAZ", "PW", "Totaal"]
    for label, values in table.items():
        code = "*" if label == "Totaal" else label
        begin = per_regulation[(code, MONTHS[0])]["begin"]
        assert values[:13] == [begin, *(per_regulation[(code, m)]["end"] for m in MONTHS)], label
    assert table["Totaal"][12] > 0


async def test_board_as_json_and_csv(client: httpx.AsyncClient) -> None:
    doc = await _json(client, "/v1/reports/board", **PERIOD)
    assert doc["report"] == "board"
    mutations = doc["tables"]["mutations"]
    assert [mutations["headings"][m] for m in MONTHS] == NAMES
    hoorn = [r for r in mutations["rows"] if r["municipality"] == "GM0405" and r["unit"] == "benefits"]
    assert [r["line"] for r in hoorn] == ["begin", "inflow", "outflow", "end"]
    assert [r["line_label"] for r in hoorn] == list(LINES)
    csv = await client.get("/v1/reports/board", params={**PERIOD, "format": "csv", "table": "regulations"})
    header = csv.text.lstrip("\ufeff").splitlines()[0].split(";")
    assert header[:4] == ["Regeling", "Omschrijving", "Begin jan", "Eind jan"]
    too_long = await client.get("/v1/reports/board", params={**PERIOD, "from": "2023-12"})
    assert too_long.status_code == 400
    assert too_long.json()["type"].endswith("period-too-long")


async def test_board_workbook_prints_one_page_per_sheet(client: httpx.AsyncClient, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (scripts/ensure-libreoffice.sh could not install it)")
    source = tmp_path / "bestuur.xlsx"
    source.write_bytes(await _workbook(client))
    profile = (tmp_path / "profile").as_uri()
    command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf"]
    # A worker thread: the event loop stays free while LibreOffice starts and prints.
    await asyncio.to_thread(
        subprocess.run,
        [*command, "--outdir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    pdf = PdfReader(tmp_path / "bestuur.pdf")
    sheets = load_workbook(source).sheetnames
    assert len(pdf.pages) == len(sheets)
    for page, sheet in zip(pdf.pages, sheets, strict=True):
        text = page.extract_text()
        assert sheet in text
        assert "periode januari 2024 t/m december 2024" in text
        assert page.mediabox.width > page.mediabox.height  # landscape
