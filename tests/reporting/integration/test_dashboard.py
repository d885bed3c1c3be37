"""The dashboard in headless Chromium: it loads, its table equals the API, and the chart draws."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from reporting.integration.conftest import EVERYTHING, loaded_database, reporting_app
from stroom_platform.broker import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromedriver") is None, reason="run scripts/ensure-chromium.sh"),
]
# Signed in through the URL fragment, which the browser keeps to itself.
TOKEN = EVERYTHING["Authorization"].removeprefix("Bearer ")
SIGN_IN = f"#token={TOKEN}"
SCREENSHOT = Path(tempfile.gettempdir()) / "stroom-dashboard.png"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[str]:
    url = await loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(reporting_app(url), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no start-up event
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


class Page(NamedTuple):
    table: list[list[str]]
    bars: int
    points: int
    kpis: dict[str, list[str]]
    hatched: list[str]  # the status of each hatched bar
    fields: dict[str, str]  # the filter form
    address: str


def _browse(url: str, profile: Path, screenshot: Path = SCREENSHOT) -> Page:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true"
        )
        table = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#mutations tbody tr")
        ]
        bars = len(driver.find_elements(By.CSS_SELECTOR, "#chart svg rect"))
        points = driver.find_element(By.CSS_SELECTOR, "#chart svg polyline").get_attribute("points") or ""
        kpis = {
            tr.get_attribute("data-kpi") or "": [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#kpis tbody tr")
        }
        hatched = [
            rect.get_attribute("data-status") or ""
            for rect in driver.find_elements(By.CSS_SELECTOR, "#chart svg rect")
            if (rect.get_attribute("fill") or "").startswith("url(#hatch-in")
            or (rect.get_attribute("fill") or "").startswith("url(#hatch-out")
        ]
        fields = {
            name: driver.find_element(By.ID, name).get_attribute("value") or ""
            for name in ("organisation", "municipality", "unit", "from", "to", "as-of")
        }
        driver.save_screenshot(str(screenshot))
        return Page(table, bars, len(points.split()), kpis, hatched, fields, driver.current_url)
    finally:
        driver.quit()


def _status(row: dict) -> str:
    return row["status"] + (" (herzien)" if row["revised"] else "")


async def test_dashboard_shows_the_api_figures(served: str, tmp_path: Path) -> None:
    query = {"organisation": "werksaam-westfriesland", "from": "2024-01", "to": "2024-06"}
    page = f"{served}/?organisation={query['organisation']}&from=2024-01&to=2024-06{SIGN_IN}"
    table, bars, points, kpis, hatched, _, address = await asyncio.to_thread(
        _browse, page, tmp_path / "chromium-profile"
    )
    assert TOKEN not in address  # taken out of the address bar and the history
    async with httpx.AsyncClient(base_url=served, headers=EVERYTHING) as client:
        doc = (await client.get("/v1/reports/monthly", params={**query, "unit": "benefits"})).json()
        kpi_doc = (await client.get("/v1/reports/kpis", params=query)).json()
    expected = [
        [
            r["month"],
            *(f"{r[k]:,}".replace(",", ".") for k in ("begin", "inflow", "outflow", "end")),
            _status(r),
        ]
        for r in sorted(doc["tables"]["organisation_totals"]["rows"], key=lambda r: r["month"])
    ]
    assert table == expected
    assert any(int(row[4].replace(".", "")) > 0 for row in table)
    assert points == 6
    assert bars >= 12
    assert hatched == []  # every month of 2024 is definitive by now
    api_kpis = {r["kpi"]: r for r in kpi_doc["tables"]["kpis"]["rows"] if r["municipality"] == "*"}
    assert set(kpis) == set(api_kpis)
    label, value, last_year, norm, met, parts = kpis["K1"]
    k1 = api_kpis["K1"]
    assert label == k1["kpi_label"]
    # Dutch notation on the page: 1.234,5
    assert float(value.replace(".", "").replace(",", ".")) == k1["value"] > 0
    assert float(last_year.replace(".", "").replace(",", ".")) == k1["last_year"]
    assert (norm == "–") == (k1["norm"] is None)
    assert met == {True: "ja", False: "nee", None: "–"}[k1["met"]]
    numerator, denominator = (float(p.replace(".", "").replace(",", ".")) for p in parts.split(" / "))
    assert (numerator, round(denominator, 1)) == (k1["numerator"], round(k1["denominator"], 1))


async def test_dashboard_marks_provisional_months_and_keeps_the_view_in_the_address(
    served: str, tmp_path: Path
) -> None:
    query = {"organisation": "werksaam-westfriesland", "from": "2024-01", "to": "2024-06", "unit": "persons"}
    page = f"{served}/?{'&'.join(f'{k}={v}' for k, v in query.items())}&asOf=2024-08-15{SIGN_IN}"
    shown = await asyncio.to_thread(
        _browse, page, tmp_path / "chromium-profile", SCREENSHOT.with_name("stroom-dashboard-voorlopig.png")
    )
    async with httpx.AsyncClient(base_url=served, headers=EVERYTHING) as client:
        doc = (
            await client.get("/v1/reports/monthly", params={**query, "asOf": "2024-08-15T23:59:59Z"})
        ).json()
    rows = sorted(doc["tables"]["organisation_totals"]["rows"], key=lambda r: r["month"])
    statuses = [r["status"] for r in rows]
    # Known on 15 August 2024: January and February are definitive, March to June not yet.
    assert statuses == ["definitief"] * 2 + ["nader voorlopig"] * 3 + ["voorlopig"]
    assert [row[5] for row in shown.table] == [_status(r) for r in rows]
    assert [row[3] for row in shown.table] == [f"{r['outflow']:,}".replace(",", ".") for r in rows]
    assert sorted(shown.hatched) == sorted([s for s in statuses if s != "definitief"] * 2)
    assert shown.fields["unit"] == "persons"
    assert shown.fields["as-of"] == "2024-08-15"
    assert "unit=persons" in shown.address
    assert "asOf=2024-08-15" in shown.address

    opened = await asyncio.to_thread(
        _browse,
        f"{served}/?organisation=werksaam-westfriesland{SIGN_IN}",
        tmp_path / "chromium-profile-2",
        SCREENSHOT.with_name("stroom-dashboard-standaard.png"),
    )
    today = date.today()
    last_complete = date(today.year, today.month, 1) - timedelta(days=1)
    assert opened.fields["to"] == f"{last_complete:%Y-%m}"
    assert opened.fields["from"] == f"{last_complete:%Y}-01"
