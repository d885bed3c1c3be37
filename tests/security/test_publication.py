"""`reports:read:public`: the monthly report as published, with small figures suppressed so that
none can be recomputed from the rest (JSON, CSV, XLSX); `reports:read` sees exact figures."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from conftest import bearer
from openpyxl import load_workbook
from reporting.integration.conftest import EVERYTHING, loaded_database, reporting_app

from stroom_reporting.domain.disclosure import (
    MEASURES,
    determined_cells,
    monthly_cells,
    monthly_constraints,
)
from stroom_reporting.domain.months import parse_month
from stroom_reporting.domain.mutations import MutationRow

YEAR = {"organisation": "werksaam-westfriesland", "from": "2024-01", "to": "2024-03"}
MONTHLY_TABLES = (
    "rows",
    "period_totals",
    "municipality_totals",
    "regulation_totals",
    "organisation_totals",
    "organisation_period_totals",
)


async def _get(url: str, scopes: frozenset[str] | None, params: dict[str, str]) -> httpx.Response:
    app = reporting_app(url)
    headers = EVERYTHING if scopes is None else bearer(*scopes, subject="publiek")
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            return await client.get("/v1/reports/monthly", params=params)
    finally:
        await app.state.runtime.engine.dispose()


PUBLIC = frozenset({"reports:read:public"})


def _key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    month = 0 if row["month"] == "totaal" else parse_month(row["month"])
    return (row["municipality"], row["regulation"], row["unit"], month)


async def test_public_json_hides_small_figures_and_all_they_follow_from(reporting_database: str) -> None:
    url = await loaded_database(reporting_database)
    exact = (await _get(url, None, YEAR)).json()
    public = await _get(url, PUBLIC, YEAR)
    assert public.status_code == 200
    doc = public.json()

    truth: dict[tuple[str, str, str, int, str], int] = {}
    for name in MONTHLY_TABLES:
        for row in exact["tables"][name]["rows"]:
            assert "suppressed" not in row
            truth.update({(*_key(row), m): row[m] for m in MEASURES})
    assert min(truth.values()) < 5, "the sample history must have small figures to hide"

    hidden = set()
    for name in MONTHLY_TABLES:
        for row in doc["tables"][name]["rows"]:
            for measure in MEASURES:
                cell = (*_key(row), measure)
                if row[measure] is None:
                    assert measure in row["suppressed"]
                    hidden.add(cell)
                else:
                    assert measure not in row["suppressed"]
                    assert row[measure] >= 5
                    assert row[measure] == truth[cell]
    assert set(truth) == {
        (*_key(r), m) for n in MONTHLY_TABLES for r in doc["tables"][n]["rows"] for m in MEASURES
    }
    assert {cell for cell, value in truth.items() if value < 5} <= hidden
    cells = monthly_cells(
        MutationRow(*cell[:4], *(truth[(*cell[:4], m)] for m in MEASURES)) for cell in truth
    )
    constraints = monthly_constraints(cells)
    for constraint in constraints:
        assert sum(cell in hidden for cell in constraint.cells) != 1
    assert not determined_cells(constraints, hidden)
    assert "kleiner dan 5" in doc["tables"]["legend"]["rows"][0]["legend"]


async def test_public_csv_and_xlsx_mark_hidden_figures(reporting_database: str) -> None:
    url = await loaded_database(reporting_database)
    answer = await _get(url, PUBLIC, {**YEAR, "format": "csv"})
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff")), delimiter=";"))
    header, body, footnote = rows[0], rows[1:-1], rows[-1]
    measures = [header.index(h) for h in ("Begin", "Instroom", "Uitstroom", "Eind")]
    values = [row[i] for row in body for i in measures]
    assert "*" in values
    assert all(v == "*" or int(v) >= 5 for v in values)
    assert footnote[0].startswith("* = niet gepubliceerd")

    workbook = load_workbook(io.BytesIO((await _get(url, PUBLIC, {**YEAR, "format": "xlsx"})).content))
    numbers = [
        cell.value
        for sheet in workbook.worksheets
        for line in sheet.iter_rows()
        for cell in line
        if isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
    ]
    assert numbers
    assert min(numbers) >= 5
    texts = [
        c.value
        for s in workbook.worksheets
        for line in s.iter_rows()
        for c in line
        if isinstance(c.value, str)
    ]
    assert "*" in texts
    assert any(t.startswith("* = niet gepubliceerd") for t in texts)


async def test_public_tables_have_one_shape(reporting_database: str) -> None:
    url = await loaded_database(reporting_database)
    for params in (
        {**YEAR, "municipality": "GM0405"},
        {**YEAR, "regulation": "PW"},
        {**YEAR, "asOf": "2025-01-01T00:00:00Z"},
        {**YEAR, "from": "2024-02"},
        {**YEAR, "to": "2025-01"},
    ):
        answer = await _get(url, PUBLIC, params)
        assert answer.status_code == 400, params
        assert answer.json()["type"].endswith("/not-published")
    # Readers with reports:read next to it see the exact figures.
    both = (await _get(url, PUBLIC | {"reports:read"}, {**YEAR, "municipality": "GM0405"})).json()
    assert all("suppressed" not in row for row in both["tables"]["rows"]["rows"])
