"""`stroom audit`: lists and verifies each service's log, and finds a tampered entry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import text
from typer.testing import CliRunner

import stroom_cli.audit
from stroom_cli.audit import audit_log, record_admin_action
from stroom_cli.main import app
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_reporting.commands import migrate


async def tamper(database_url: str, statement: str) -> None:
    """What a table owner could do: switch the guard off and change the rows."""
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        if not is_postgres(database_url):
            await conn.execute(text("DROP TRIGGER reporting_audit_no_update"))
            await conn.execute(text("DROP TRIGGER reporting_audit_no_delete"))
        else:
            await conn.execute(text("ALTER TABLE reporting_audit DISABLE TRIGGER USER"))
        await conn.execute(text(statement))
    await engine.dispose()


def test_stroom_audit_lists_verifies_and_detects_tampering(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(stroom_cli.audit, "console", Console(width=200))
    asyncio.run(migrate(database_url))
    asyncio.run(record_admin_action("reporting", "sleutelrotatie", "pseudoniemen", "gelukt"))
    runner = CliRunner()

    listed = runner.invoke(app, ["audit", "--service", "reporting"])
    assert listed.exit_code == 0, listed.output
    assert "sleutelrotatie" in listed.output
    assert "reporting: keten intact (1 regels gecontroleerd)" in listed.output

    asyncio.run(tamper(database_url, "UPDATE reporting_audit SET result = 'mislukt' WHERE seq = 1"))
    verified = runner.invoke(app, ["audit", "--service", "reporting", "--verify"])
    assert verified.exit_code == 1
    assert "keten gebroken bij regel 1" in verified.output

    async def actions() -> list[str]:
        log = audit_log("reporting")
        try:
            return [e.record.action for e in await log.page(0, 10)]
        finally:
            await log.engine.dispose()

    # Each read from the command line is an entry too.
    assert asyncio.run(actions()) == ["sleutelrotatie", "audit-inzage", "audit-inzage"]


def test_stroom_audit_detects_the_newest_entries_cut_off(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(stroom_cli.audit, "console", Console(width=200))
    asyncio.run(migrate(database_url))
    for n in range(3):
        asyncio.run(record_admin_action("reporting", "sleutelrotatie", f"versie {n + 2}", "gelukt"))
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "--service", "reporting", "--verify"]).exit_code == 0

    # The last two entries gone, the chain before them intact.
    asyncio.run(tamper(database_url, "DELETE FROM reporting_audit WHERE seq >= 3"))
    verified = runner.invoke(app, ["audit", "--service", "reporting", "--verify"])
    assert verified.exit_code == 1, verified.output
    assert "keten gebroken bij regel 3" in verified.output
    assert "ontbreken" in verified.output
