"""A service does not start on a database that is not at its newest migration: its consumer or
relay would write in a schema the code was not written for. `stroom serve --no-migrate` says so
in one Dutch line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from conftest import PSEUDONYM_KEY
from typer.testing import CliRunner

from stroom_caseload.app import create_app as caseload_app
from stroom_caseload.commands import MIGRATIONS as CASELOAD
from stroom_caseload.commands import migrate as migrate_caseload
from stroom_caseload.settings import CaseloadSettings
from stroom_cli.main import app as cli
from stroom_intake.app import create_app as intake_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.db import NotMigrated, alembic_config, require_migrated
from stroom_reporting.app import create_app as reporting_app
from stroom_reporting.settings import ReportingSettings


def _apps(url: str) -> dict[str, Any]:
    return {
        "intake": intake_app(IntakeSettings(DATABASE_URL=url, pseudonym_key=PSEUDONYM_KEY)),
        "caseload": caseload_app(CaseloadSettings(DATABASE_URL=url)),
        "reporting": reporting_app(ReportingSettings(DATABASE_URL=url, consume=False)),
    }


@pytest.mark.parametrize("service", ["intake", "caseload", "reporting"])
async def test_no_service_starts_on_a_database_never_migrated(tmp_path: Path, service: str) -> None:
    app = _apps(f"sqlite+aiosqlite:///{tmp_path / 'stroom.db'}")[service]
    with pytest.raises(NotMigrated, match=rf"staat op versie \(geen\).*`stroom migrate {service}`"):
        async with app.router.lifespan_context(app):
            pass
    await app.state.runtime.engine.dispose()


async def test_caseload_refuses_a_database_one_migration_behind_and_starts_at_the_head(
    database_url: str,
) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(CASELOAD.location, database_url), "idx01")
    settings = CaseloadSettings(DATABASE_URL=database_url)
    engine = settings.database_engine("caseload")
    try:
        with pytest.raises(NotMigrated, match=r"staat op versie idx01 en .* verwacht coll01"):
            await require_migrated(engine, CASELOAD)
        await migrate_caseload(database_url)
        await require_migrated(engine, CASELOAD)
    finally:
        await engine.dispose()


def test_stroom_serve_without_migrating_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    # An address nothing listens on: the refusal comes before any Kafka client connects.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("STROOM_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "caseload", "--no-migrate"])
    assert result.exit_code == 2, result.output
    # uvicorn logs the lifespan's error as JSON; the command ends on the refusal itself.
    assert result.output.splitlines()[-1] == (
        "stroom: de database van caseload staat op versie (geen) en deze versie van Stroom verwacht"
        " coll01: voer eerst `stroom migrate caseload` uit."
    )
