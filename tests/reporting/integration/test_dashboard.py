"""Every view of the dashboard in headless Chromium against a real reporting service: what it
shows equals the API's figures, an organisation without data says so, each view downloads as CSV
and XLSX, errors come in the API's words, and the view lives in the address. The browser runs in
an English locale (en-US), so what it would show in its own language shows up here. A screenshot
of each view is kept under $STROOM_ARTIFACTS (default var/artifacts/dashboard/)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openpyxl import load_workbook
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from reporting.integration.conftest import EVERYTHING, loaded_sqlite_database, reporting_app
from reporting.samples import benefit
from stroom_platform.broker import free_port
from stroom_platform.db import make_engine
from stroom_reporting.repository import apply_facts

pytestmark = [
    pytest.mark.browser,
    # One worker's browser and server for the module, not one on each worker.
    pytest.mark.xdist_group("dashboard"),
    pytest.mark.skipif(shutil.which("chromedriver") is None, reason="run scripts/ensure-chromium.sh"),
]
TOKEN = EVERYTHING["Authorization"].removeprefix("Bearer ")
ORG = "werksaam-westfriesland"
EMPTY_ORG = "bar"  # no facts at all in the loaded history
PERIOD = {"from": "2024-01", "to": "2024-06"}
ARTIFACTS = Path(
    os.environ.get("STROOM_ARTIFACTS") or Path(__file__).parents[3] / "var" / "artifacts" / "dashboard"
)
MONTHS = [
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
]  # fmt: skip
Doc = dict[str, Any]
Table = list[list[str]]


async def with_returns(path: Path) -> str:
    """The loaded history and clients who left and came back: the revolving door has figures."""
    url = await loaded_sqlite_database(path)
    returns = [
        benefit("door-1", "GM0405", date(2023, 5, 1), date(2024, 2, 15)),
        benefit("door-1-back", "GM0405", date(2024, 5, 1), applicant="door-1"),
        benefit("door-2", "GM0420", date(2023, 9, 1), date(2024, 3, 31)),
        benefit("door-2-back", "GM0420", date(2024, 12, 1), applicant="door-2"),
    ]
    engine = make_engine(url)
    async with engine.begin() as conn:
        await apply_facts(conn, returns, datetime.now(UTC))
    await engine.dispose()
    return url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reporting service on a loaded database, in a thread of its own for the whole module."""
    url = asyncio.run(with_returns(tmp_path_factory.mktemp("reporting") / "reporting.db"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(reporting_app(url), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1280,1800",
        "--lang=en-US",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "intl.accept_languages": "en-US"}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def api(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, headers=EVERYTHING, timeout=60) as client:
        yield client


def get(api: httpx.Client, path: str, **params: str) -> Doc:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    doc: Doc = response.json()
    return doc


def loaded(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or ""


def open_view(driver: WebDriver, served: str, query: str) -> str:
    """Opens the dashboard at `?query`, signing in through the form when the tab has no token
    yet, and waits until it shows a view (or an error)."""
    driver.get("about:blank")
    driver.get_log("browser")  # what earlier pages logged
    driver.get(f"{served}/?{query}")
    WebDriverWait(driver, 60).until(lambda d: loaded(d) or d.find_element(By.ID, "signin").is_displayed())
    if not loaded(driver):
        driver.find_element(By.ID, "signin-token").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    WebDriverWait(driver, 60).until(loaded)
    return loaded(driver)


def screenshot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    whole = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": whole})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")


def tables(driver: WebDriver) -> dict[str, Table]:
    """Every table of the view by name: the body's rows and then the footer's, as shown."""
    shown = {}
    for table in driver.find_elements(By.CSS_SELECTOR, "#view table[data-table]"):
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr, tfoot tr")
        shown[table.get_attribute("data-table") or ""] = [
            [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows
        ]
    return shown


def headings(driver: WebDriver, name: str) -> list[str]:
    return [th.text for th in driver.find_elements(By.CSS_SELECTOR, f'table[data-table="{name}"] thead th')]


def number(shown: str) -> float | None:
    """A figure in Dutch notation (1.234,5 and 12,3 %) as a number; – is none."""
    if shown == "–":
        return None
    return float(shown.removesuffix(" %").replace(".", "").replace(",", "."))


def nl(value: float | None) -> str:
    """A figure as the dashboard shows it: Dutch separators, at most one decimal, – for none."""
    if value is None:
        return "–"
    rounded = Decimal(value).quantize(Decimal("0.1"), ROUND_HALF_UP).normalize()
    whole, _, fraction = f"{rounded:f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}".replace(",", ".")
    return sign + grouped + ("," + fraction if fraction else "")


def pct(value: float | None) -> str:
    return "–" if value is None else f"{nl(value)} %"


def status(row: Doc) -> str:
    return row["status"] + (" (herzien)" if row.get("revised") else "")


def summed(rows: list[Doc], key: Callable[[Doc], Any], *fields: str) -> dict[Any, dict[str, Any]]:
    """Sums of `fields` per key, in the order the keys first appear (the municipalities together)."""
    sums: dict[Any, dict[str, Any]] = {}
    for r in rows:
        into = sums.setdefault(key(r), {"first": r, **dict.fromkeys(fields, 0)})
        for f in fields:
            into[f] += r[f]
    return sums


def quarters(first: str, last: str) -> list[tuple[str, str]]:
    index = lambda m: int(m[:4]) * 12 + int(m[5:7]) - 1  # noqa: E731
    month = lambda i: f"{i // 12}-{i % 12 + 1:02}"  # noqa: E731
    periods, i = [], index(first)
    while i <= index(last):
        end = min(index(last), i + 2 - i % 3)
        periods.append((month(i), month(end)))
        i = end + 1
    return periods


# What each view must show, from the API's own answers, as {table: rows of cells}.
def expect_mutaties(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/monthly", organisation=ORG, unit="benefits", **PERIOD)
    rows = sorted(doc["tables"]["organisation_totals"]["rows"], key=lambda r: r["month"])
    body = [[r["month"], *(nl(r[k]) for k in ("begin", "inflow", "outflow", "end")), status(r)] for r in rows]
    foot = [
        "Totaal periode",
        nl(rows[0]["begin"]),
        nl(sum(r["inflow"] for r in rows)),
        nl(sum(r["outflow"] for r in rows)),
        nl(rows[-1]["end"]),
        "",
    ]
    return {"mutations": [*body, foot]}


def shown(value: Any) -> str:
    """A cell of a table the dashboard shows as the API gives it."""
    if isinstance(value, int | float):
        return nl(value)
    return "–" if value is None else str(value)


def expect_bestuur(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/board", organisation=ORG, **PERIOD)
    t = doc["tables"]
    months = [c for c in t["mutations"]["columns"] if c[:2] == "20"]

    def rows(table: str, columns: list[str], keep: Callable[[Doc], bool] = lambda r: True) -> Table:
        return [[shown(r[c]) for c in columns] for r in t[table]["rows"] if keep(r)]

    expected = {}
    for m in doc["municipalities"]:
        for unit in ("benefits", "persons"):
            expected[f"mutations-{m['code']}-{unit}"] = rows(
                "mutations",
                ["line_label", *months, "total"],
                lambda r, code=m["code"], unit=unit: r["municipality"] == code and r["unit"] == unit,
            )
        expected[f"lks-{m['code']}"] = rows(
            "wage_subsidy",
            ["municipality_name", "begin", *months],
            lambda r, code=m["code"]: r["municipality"] == code,
        )
    expected["sheltered"] = rows(
        "sheltered_work",
        ["municipality_name", "taakstelling", "additional", "target", "realised", "realisation_pct"],
    )
    expected["regulations"] = rows("regulations", ["regulation_label", "begin", *months])
    expected["status"] = rows("status", ["month", "status"])
    units = {"benefits": "Uitkeringen", "persons": "Personen"}
    expected["revisions"] = [
        [r["municipality_name"], r["regulation_label"], units[r["unit"]], r["month"]]
        for r in t["revisions"]["rows"]
    ]
    assert expected["revisions"]  # the history has definitive months changed later
    assert [row[0] for row in expected["mutations-GM0405-benefits"]] == [
        "Beginstand",
        "Instroom",
        "Uitstroom",
        "Eindstand",
    ]
    return expected


def expect_redenen(api: httpx.Client) -> dict[str, Table]:
    rows = get(api, "/v1/reports/reasons", organisation=ORG, **PERIOD)["tables"]["reasons"]["rows"]
    shown = {}
    for direction, table in (("inflow", "instroom"), ("outflow", "uitstroom")):
        sums = summed([r for r in rows if r["direction"] == direction], lambda r: r["reason"], "count")
        ranked = sorted(sums.values(), key=lambda s: (-s["count"], s["first"]["reason_label"]))
        shown[table] = [
            *([s["first"]["reason_label"], s["first"]["cbs_code"] or "–", nl(s["count"])] for s in ranked),
            ["Totaal", "", nl(sum(s["count"] for s in ranked))],
        ]
    return shown


def expect_samenstelling(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/composition", organisation=ORG, stockDate="2024-06-30")
    rows = doc["tables"]["composition"]["rows"]
    shown: dict[str, Table] = {}
    for dimension in dict.fromkeys(r["dimension"] for r in rows):
        sums = summed([r for r in rows if r["dimension"] == dimension], lambda r: r["value"], "count")
        shown[dimension] = [[s["first"]["value_label"], nl(s["count"])] for s in sums.values()]
    return shown


def expect_plaatsingen(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/placements", organisation=ORG, **PERIOD)
    rows = doc["tables"]["placements"]["rows"]
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    kinds.sort(key=lambda k: k != "wage_subsidy")
    active = summed(rows, lambda r: (r["month"], r["kind"]), "active")
    months = summed(rows, lambda r: r["month"])
    return {
        "placements": [
            [month, *(nl(active[(month, k)]["active"]) for k in kinds), status(m["first"])]
            for month, m in months.items()
        ],
        "sheltered": [
            [
                r["municipality_name"],
                nl(r["active"]),
                "geen" if r["target"] is None else nl(r["target"]),
                pct(r["realisation_pct"]),
            ]
            for r in doc["tables"]["sheltered_work"]["rows"]
            if r["month"] == PERIOD["to"]
        ],
    }


def ended_cell(row: Doc) -> str:
    return f"{row['quarter']} {row['phase_label']}: {row['outcome_label']}"


def expect_trajecten(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/trajectories", organisation=ORG, **PERIOD)
    fields = ("begin", "inflow", "outflow", "end")
    # Grouped on the codes, shown with their labels.
    phases = summed(doc["tables"]["phases"]["rows"], lambda r: (r["quarter"], r["phase"]), *fields)
    ended = summed(
        doc["tables"]["ended"]["rows"], lambda r: (r["quarter"], r["phase"], r["outcome"]), "count"
    )
    return {
        "phases": [
            [f"{s['first']['quarter']} {s['first']['phase_label']}", *(nl(s[f]) for f in fields)]
            for s in phases.values()
        ],
        "ended": [[ended_cell(e["first"]), nl(e["count"])] for e in ended.values()],
    }


def expect_caseload(api: httpx.Client) -> dict[str, Table]:
    rows = get(api, "/v1/reports/caseload", organisation=ORG, stockDate="2024-06-30")["tables"]["caseload"][
        "rows"
    ]
    # Columns in the order of their labels, counted on the codes.
    streams = [code for _, code in sorted({(r["client_stream_label"], r["client_stream"]) for r in rows})]
    cells = summed(rows, lambda r: (r["coach"], r["client_stream"]), "count")
    coaches = summed(rows, lambda r: r["coach"], "count")

    def at(coach: str, stream: str) -> int:
        return cells[(coach, stream)]["count"] if (coach, stream) in cells else 0

    body = [[c, *(nl(at(c, s)) for s in streams), nl(sums["count"])] for c, sums in coaches.items()]
    foot = [
        "Totaal",
        *(nl(sum(at(c, s) for c in coaches)) for s in streams),
        nl(sum(r["count"] for r in rows)),
    ]
    return {"caseload": [*sorted(body), foot]}


def expect_poort(api: httpx.Client) -> dict[str, Table]:
    doc = get(api, "/v1/reports/gate", organisation=ORG, **PERIOD)
    rows = doc["tables"]["totals"]["rows"]
    (whole,) = [r for r in doc["tables"]["period_totals"]["rows"] if r["municipality"] == "*"]
    fields = ("received", "granted", "rejected", "withdrawn")
    return {
        "gate": [
            *([r["month"], *(nl(r[f]) for f in fields), pct(r["not_granted_pct"]), status(r)] for r in rows),
            ["Totaal periode", *(nl(whole[f]) for f in fields), pct(whole["not_granted_pct"]), ""],
        ]
    }


def _met(row: Doc) -> str:
    return {True: "ja", False: "nee", None: "–"}[row["met"]]


def expect_kpis(api: httpx.Client) -> dict[str, Table]:
    def totals(first: str, last: str) -> dict[str, Doc]:
        doc = get(api, "/v1/reports/kpis", organisation=ORG, **{"from": first, "to": last})
        return {r["kpi"]: r for r in doc["tables"]["kpis"]["rows"] if r["municipality"] == "*"}

    main = totals(PERIOD["from"], PERIOD["to"])
    shown = {
        "kpis": [
            [
                r["kpi_label"],
                nl(r["value"]),
                nl(r["last_year"]),
                nl(r["norm"]),
                _met(r),
                "–" if r["numerator"] is None else f"{nl(r['numerator'])} / {nl(r['denominator'])}",
            ]
            for r in main.values()
        ]
    }
    periods = quarters(PERIOD["from"], PERIOD["to"])
    trend = [totals(*p) for p in periods]
    for kpi in main:
        shown[f"trend-{kpi}"] = [
            [f"{first} t/m {last}", nl(t[kpi]["value"]), nl(t[kpi]["norm"]), _met(t[kpi])]
            for (first, last), t in zip(periods, trend, strict=True)
        ]
    return shown


def expect_draaideur(api: httpx.Client) -> dict[str, Table]:
    rows = get(api, "/v1/reports/kpis", organisation=ORG, **PERIOD)["tables"]["revolving_door"]["rows"]
    own = [r for r in rows if r["municipality"] == "*"]
    return {
        "door": [
            *(
                [
                    f"{r['outflow_reason_label']} → {r['inflow_reason_label']}",
                    nl(r["within_6m"]),
                    nl(r["within_12m"]),
                ]
                for r in own
            ),
            ["Totaal", nl(sum(r["within_6m"] for r in own)), nl(sum(r["within_12m"] for r in own))],
        ]
    }


# view: (what it must show, the API download of the view, its CSV table)
VIEWS: dict[str, tuple[Callable[[httpx.Client], dict[str, Table]], str, dict[str, str]]] = {
    "mutaties": (
        expect_mutaties,
        "/v1/reports/monthly",
        {"unit": "benefits", "table": "organisation_totals"},
    ),
    "bestuur": (expect_bestuur, "/v1/reports/board", {"table": "mutations"}),
    "redenen": (expect_redenen, "/v1/reports/reasons", {"table": "reasons"}),
    "samenstelling": (expect_samenstelling, "/v1/reports/composition", {"table": "composition"}),
    "plaatsingen": (expect_plaatsingen, "/v1/reports/placements", {"table": "placements"}),
    "trajecten": (expect_trajecten, "/v1/reports/trajectories", {"table": "phases"}),
    "caseload": (expect_caseload, "/v1/reports/caseload", {"table": "caseload"}),
    "poort": (expect_poort, "/v1/reports/gate", {"table": "totals"}),
    "kpis": (expect_kpis, "/v1/reports/kpis", {"table": "kpis"}),
    "draaideur": (expect_draaideur, "/v1/reports/kpis", {"table": "revolving_door"}),
}
ON_A_DAY = {"samenstelling", "caseload"}


def fetched(downloads: Path, before: set[Path]) -> Path:
    """The file the browser saved since `before`, once it is complete."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [p for p in downloads.iterdir() if p not in before and not p.name.endswith(".crdownload")]
        if new:
            return new[0]
        time.sleep(0.1)
    raise AssertionError("no download arrived")


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_shows_the_api_figures_and_downloads_them(
    view: str, served: str, browser: WebDriver, api: httpx.Client, downloads: Path
) -> None:
    expect, path, download = VIEWS[view]
    query = f"view={view}&organisation={ORG}&from={PERIOD['from']}&to={PERIOD['to']}"
    assert open_view(browser, served, query) == view
    screenshot(browser, view)
    assert TOKEN not in browser.current_url  # taken out of the address bar and the history
    assert browser.find_element(By.ID, "empty").is_displayed() is False
    shown = tables(browser)
    expected = expect(api)
    if view == "caseload":  # coaches in Dutch alphabetical order, which Python's sort may not match
        shown["caseload"] = [*sorted(shown["caseload"][:-1]), shown["caseload"][-1]]
    assert shown == expected
    assert any(
        number(cell) for rows in shown.values() for row in rows for cell in row[1:] if cell[:1].isdigit()
    )
    title = browser.find_element(By.ID, "view-title").text
    subtitle = browser.find_element(By.ID, "view-subtitle").text
    assert title
    assert "WerkSaam" in subtitle
    assert (
        "peildatum 30 juni 2024" if view in ON_A_DAY else "periode januari 2024 t/m juni 2024"
    ) in subtitle

    # Downloads: the API's files for the same view, fetched with the credential in a header.
    scope = {"organisation": ORG, **({"stockDate": "2024-06-30"} if view in ON_A_DAY else PERIOD)}
    for fmt in ("csv", "xlsx"):
        before = set(downloads.iterdir())
        browser.find_element(By.ID, f"download-{fmt}").click()
        saved = fetched(downloads, before)
        extra = download if fmt == "csv" else {k: v for k, v in download.items() if k != "table"}
        direct = api.get(path, params={**scope, **extra, "format": fmt})
        assert direct.status_code == 200
        assert saved.suffix == f".{fmt}"
        if fmt == "csv":
            assert saved.read_bytes() == direct.content
        else:
            ours, theirs = load_workbook(saved), load_workbook(io.BytesIO(direct.content))
            assert ours.sheetnames == theirs.sheetnames
            for name in ours.sheetnames:
                assert [list(r) for r in ours[name].iter_rows(values_only=True)] == [
                    list(r) for r in theirs[name].iter_rows(values_only=True)
                ]
        saved.unlink()  # another view may download a file of the same name
    # Nothing refused by the content security policy, no script error, no failed request.
    assert [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    # An organisation without data says so, rather than drawing zeros.
    assert open_view(browser, served, f"view={view}&organisation={EMPTY_ORG}&from=2024-01&to=2024-06") == view
    empty = browser.find_element(By.ID, "empty")
    assert empty.is_displayed()
    assert empty.text.startswith("Geen gegevens voor")
    assert tables(browser) == {}
    screenshot(browser, f"{view}-geen-gegevens")


def test_mutations_stock_axis_shows_change_and_provisional_months_are_hatched(
    served: str, browser: WebDriver, api: httpx.Client
) -> None:
    query = f"view=mutaties&organisation={ORG}&from=2024-01&to=2024-06&unit=persons&asOf=2024-08-15"
    assert open_view(browser, served, query) == "mutaties"
    screenshot(browser, "mutaties-personen-voorlopig")
    doc = get(
        api, "/v1/reports/monthly", organisation=ORG, unit="persons", asOf="2024-08-15T23:59:59Z", **PERIOD
    )
    rows = sorted(doc["tables"]["organisation_totals"]["rows"], key=lambda r: r["month"])
    statuses = [r["status"] for r in rows]
    # Known on 15 August 2024: January and February are definitive, March to June not yet.
    assert statuses == ["definitief"] * 2 + ["nader voorlopig"] * 3 + ["voorlopig"]
    table = tables(browser)["mutations"]
    assert [row[5] for row in table[:-1]] == [status(r) for r in rows]
    assert [row[4] for row in table[:-1]] == [nl(r["end"]) for r in rows]
    bars = browser.find_elements(By.CSS_SELECTOR, "#view svg rect[data-final]")
    hatched = [b.get_attribute("data-status") for b in bars if b.get_attribute("data-final") == "false"]
    assert sorted(hatched) == sorted([s for s in statuses if s != "definitief"] * 2)
    assert all(
        (b.get_attribute("fill") or "").startswith("url(#hatch-")
        for b in bars
        if b.get_attribute("data-final") == "false"
    )
    # The stock line's axis lies around the figures, not from zero.
    stock = browser.find_element(By.CSS_SELECTOR, "#view svg[aria-label='Stand einde maand']")
    low, high = float(stock.get_attribute("data-lo") or 0), float(stock.get_attribute("data-hi") or 0)
    ends = [r["end"] for r in rows]
    assert 0 < low <= min(ends) <= max(ends) <= high
    fields = {name: browser.find_element(By.ID, name).get_attribute("value") for name in ("unit", "as-of")}
    assert fields == {"unit": "persons", "as-of": "15-08-2024"}
    assert "unit=persons" in browser.current_url
    assert "asOf=2024-08-15" in browser.current_url
    assert "zoals bekend op 15 augustus 2024" in browser.find_element(By.ID, "view-subtitle").text


def test_opens_on_the_last_complete_month_and_the_year_up_to_it(served: str, browser: WebDriver) -> None:
    assert open_view(browser, served, f"organisation={ORG}") == "mutaties"
    today = date.today()
    last_complete = date(today.year, today.month, 1) - timedelta(days=1)
    assert month_fields(browser) == {
        "from": f"januari {last_complete:%Y}",
        "to": f"{MONTHS[last_complete.month - 1]} {last_complete:%Y}",
    }
    assert f"from={last_complete:%Y}-01" in browser.current_url
    assert f"to={last_complete:%Y-%m}" in browser.current_url


def month_fields(driver: WebDriver) -> dict[str, str]:
    """The period's month fields as they read: the selected month and year, as shown."""
    return {
        field: " ".join(
            driver.find_element(By.CSS_SELECTOR, f"#{field}-{part} option:checked").text
            for part in ("month", "year")
        )
        for field in ("from", "to")
    }


def test_period_and_date_read_dutch_in_an_english_browser(
    served: str, browser: WebDriver, api: httpx.Client
) -> None:
    query = f"view=mutaties&organisation={ORG}&from=2024-01&to=2024-06&asOf=2024-08-15"
    assert open_view(browser, served, query) == "mutaties"
    assert browser.execute_script("return navigator.language") == "en-US"
    screenshot(browser, "filters-engelse-browser")
    assert month_fields(browser) == {"from": "januari 2024", "to": "juni 2024"}
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#to-month option")] == MONTHS
    assert browser.find_element(By.ID, "as-of").get_attribute("value") == "15-08-2024"
    # By keyboard alone: the month one down, a day typed in the Dutch way, Enter.
    browser.find_element(By.ID, "to-month").send_keys(Keys.DOWN)
    day = browser.find_element(By.ID, "as-of")
    day.clear()
    day.send_keys("1-9-2024", Keys.ENTER)
    WebDriverWait(browser, 60).until(lambda d: loaded(d) == "mutaties" and "to=2024-07" in d.current_url)
    assert "asOf=2024-09-01" in browser.current_url
    assert day.get_attribute("value") == "01-09-2024"
    assert month_fields(browser)["to"] == "juli 2024"
    doc = get(
        api,
        "/v1/reports/monthly",
        organisation=ORG,
        asOf="2024-09-01T23:59:59Z",
        unit="benefits",
        **{"from": "2024-01", "to": "2024-07"},
    )
    rows = sorted(doc["tables"]["organisation_totals"]["rows"], key=lambda r: r["month"])
    assert [row[0] for row in tables(browser)["mutations"][:-1]] == [r["month"] for r in rows]
    assert [row[4] for row in tables(browser)["mutations"][:-1]] == [nl(r["end"]) for r in rows]
    assert "zoals bekend op 1 september 2024" in browser.find_element(By.ID, "view-subtitle").text
    # A date that is not dd-mm-jjjj, or does not exist, is refused beside the field, in Dutch,
    # and nothing is asked of the API.
    for typed, said in (
        ("2024-08-15", "Ongeldige datum: vul een datum in als dd-mm-jjjj, bijvoorbeeld 15-08-2024."),
        ("31-02-2024", "31-02-2024 bestaat niet: vul een datum in als dd-mm-jjjj, bijvoorbeeld 15-08-2024."),
        ("morgen", "Ongeldige datum: vul een datum in als dd-mm-jjjj, bijvoorbeeld 15-08-2024."),
    ):
        day.clear()
        day.send_keys(typed, Keys.ENTER)
        WebDriverWait(browser, 10).until(lambda d: loaded(d) == "invalid")
        assert browser.find_element(By.ID, "as-of-error").text == said
        assert day.get_attribute("aria-invalid") == "true"
        assert browser.switch_to.active_element == day
        assert "asOf=2024-09-01" in browser.current_url
        browser.execute_script("delete document.body.dataset.loaded")
    screenshot(browser, "filters-ongeldige-datum")
    day.clear()
    day.send_keys(Keys.ENTER)
    WebDriverWait(browser, 60).until(lambda d: loaded(d) == "mutaties")
    assert "asOf" not in browser.current_url
    assert browser.find_element(By.ID, "as-of-error").text == ""
    assert day.get_attribute("aria-invalid") is None


def test_one_municipality_by_keyboard_and_in_the_address(
    served: str, browser: WebDriver, api: httpx.Client
) -> None:
    hoorn = {"organisation": ORG, "municipality": "GM0405", **PERIOD}
    query = "&".join(f"{k}={v}" for k, v in hoorn.items())
    assert open_view(browser, served, query) == "mutaties"
    monthly = get(api, "/v1/reports/monthly", unit="benefits", **hoorn)
    rows = sorted(monthly["tables"]["municipality_totals"]["rows"], key=lambda r: r["month"])
    shown = tables(browser)["mutations"]
    assert shown[:-1] == [
        [r["month"], *(nl(r[k]) for k in ("begin", "inflow", "outflow", "end")), status(r)] for r in rows
    ]
    assert "Hoorn" in browser.find_element(By.ID, "view-subtitle").text

    link = browser.find_element(By.CSS_SELECTOR, "#views a[data-view='poort']")
    link.send_keys(Keys.ENTER)
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "poort"
    )
    assert link.get_attribute("aria-current") == "page"
    assert "view=poort" in browser.current_url
    assert "municipality=GM0405" in browser.current_url
    gate = get(api, "/v1/reports/gate", **hoorn)["tables"]["gate"]["rows"]
    fields = ("received", "granted", "rejected", "withdrawn")
    assert tables(browser)["gate"][:-1] == [
        [r["month"], *(nl(r[f]) for f in fields), pct(r["not_granted_pct"]), status(r)] for r in gate
    ]
    assert sum(r["received"] for r in gate) > 0
    screenshot(browser, "poort-hoorn")
    # Every control shown has a name a screen reader reads out, as Chromium computes it (the unit
    # is hidden outside the mutations view).
    names = {
        control.get_attribute("id"): control.accessible_name
        for control in browser.find_elements(By.CSS_SELECTOR, "#filters select, #filters input")
        if control.is_displayed()
    }
    assert len(names) == 7
    assert all(names.values()), names
    assert names["to-month"] == "Tot en met, maand"
    assert names["as-of"] == "Zoals bekend op (dd-mm-jjjj)"


def test_sign_in_through_the_fragment_and_out_again(served: str, browser: WebDriver) -> None:
    browser.get(f"{served}/")
    browser.execute_script("sessionStorage.clear()")
    # The fragment stays in the browser (it is never sent) and leaves the address at once.
    browser.get(f"{served}/?view=redenen&organisation={ORG}&from=2024-01&to=2024-06#token={TOKEN}")
    WebDriverWait(browser, 60).until(loaded)
    assert loaded(browser) == "redenen"
    assert TOKEN not in browser.current_url
    browser.find_element(By.ID, "signout").click()
    assert browser.find_element(By.ID, "signin").is_displayed()
    assert browser.find_element(By.ID, "signin-message").text == "U bent afgemeld."
    assert browser.execute_script("return sessionStorage.length") == 0
    assert not browser.find_element(By.ID, "report").is_displayed()
    # A token that is not valid is refused with the API's reason, and nothing is shown.
    browser.find_element(By.ID, "signin-token").send_keys("geen-geldig-token")
    browser.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "signin-message").text.startswith("Aanmelden mislukt")
    )
    assert not browser.find_element(By.ID, "report").is_displayed()
    browser.get_log("browser")  # the refused request (401) was meant


def test_errors_are_shown_in_the_api_words(served: str, browser: WebDriver, api: httpx.Client) -> None:
    assert open_view(browser, served, f"view=poort&organisation={ORG}&from=2024-07&to=2024-01") == "error"
    problem = api.get(
        "/v1/reports/gate", params={"organisation": ORG, "from": "2024-07", "to": "2024-01"}
    ).json()
    message = browser.find_element(By.ID, "message")
    assert message.is_displayed()
    assert message.text == f"Fout: {problem['title']}: {problem['detail']}"
    assert problem["title"] == "Ongeldige periode"
    screenshot(browser, "fout")
