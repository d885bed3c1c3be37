"""The services as an attacker meets them: intake on a real database and broker (the intake
fixtures), reporting on a loaded database, caseload's HTTP API on its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import PSEUDONYM_KEY
from fastapi import FastAPI
from intake.conftest import app, settings  # noqa: F401 - fixtures used by the tests here
from reporting.integration.conftest import loaded_sqlite_database, reporting_app

from stroom_caseload.app import create_app as caseload_app
from stroom_caseload.commands import migrate as caseload_migrate
from stroom_caseload.settings import CaseloadSettings
from stroom_intake.app import create_app as intake_app
from stroom_intake.settings import IntakeSettings


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = reporting_app(await loaded_sqlite_database(tmp_path / "reporting.db"))
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture
async def apps(tmp_path: Path, reporting: FastAPI) -> dict[str, FastAPI]:
    """The three apps as `stroom serve` builds them; their lifespans are not needed to refuse."""
    intake_url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    caseload_url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
    await caseload_migrate(caseload_url)
    return {
        "intake": intake_app(IntakeSettings(pseudonym_key=PSEUDONYM_KEY, database_url=intake_url)),
        "caseload": caseload_app(CaseloadSettings(database_url=caseload_url)),
        "reporting": reporting,
    }


def client_of(application: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://stroom", headers=headers
    )
