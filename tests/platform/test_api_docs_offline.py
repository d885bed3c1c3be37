"""Each service's /docs loads completely in headless Chromium with the network cut off."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from stroom_cli.runtime import Service, embedded_broker_if_needed, load_service
from stroom_cli.serve import migrate_services, start_services
from stroom_platform.broker import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts"


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STROOM_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", "docs-test-key-" + "x" * 20)
    for name in ("intake", "caseload", "reporting"):
        monkeypatch.setenv(f"STROOM_{name.upper()}_PORT", str(free_port()))
    async with embedded_broker_if_needed(tmp_path):
        loaded: list[Service] = [load_service(n) for n in ("intake", "caseload", "reporting")]
        await migrate_services(loaded)
        group = await start_services(loaded)
        try:
            yield {e.name: e.url for e in group.endpoints}
        finally:
            await group.stop()


def _load_offline(url: str, profile: Path, screenshot: Path) -> tuple[int, list[str]]:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        # The network cut off: every name resolves to nothing, and no proxy to go around it.
        # (the service itself stays reachable: the rule would map its own 127.0.0.1 away too)
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--no-proxy-server",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=DriverService("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true"
        )
        operations = len(driver.find_elements(By.CSS_SELECTOR, ".opblock"))
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.save_screenshot(str(screenshot))
        return operations, errors
    finally:
        driver.quit()


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="run scripts/ensure-chromium.sh")
async def test_docs_load_without_network(services: dict[str, str], tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient() as client:
        for name, url in services.items():
            page = (await client.get(f"{url}/docs")).text
            assert "http" not in page.replace(url, ""), "the page links nothing outside the service"
            document = (await client.get(f"{url}/v1/openapi.json")).json()
            screenshot = ARTIFACTS / f"docs-offline-{name}.png"
            operations, errors = await asyncio.to_thread(
                _load_offline, f"{url}/docs", tmp_path / f"profile-{name}", screenshot
            )
            expected = sum(
                1 for item in document["paths"].values() for method in item if method in ("get", "post")
            )
            assert operations == expected > 0, name
            assert errors == [], name
            assert screenshot.stat().st_size > 10_000
