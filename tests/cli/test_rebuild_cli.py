"""`stroom caseload rebuild` says what it replayed and republished, or why it failed, in Dutch."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stroom_caseload.commands import migrate as migrate_caseload
from stroom_caseload.tables import shadow
from stroom_cli.main import app
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics


@pytest.fixture
def database(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A migrated caseload database and an empty events topic, named in the environment."""
    database = tmp_path / "caseload.db"
    url = f"sqlite+aiosqlite:///{database}"
    asyncio.run(migrate_caseload(url))
    asyncio.run(ensure_topics(broker.bootstrap_servers, [TopicSpec(unique_topic, 1)]))
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "STROOM_EVENTS_TOPIC": unique_topic,
        "STROOM_FACTS_TOPIC": f"{unique_topic}.facts",
        "STROOM_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    return database


def test_a_rebuild_reports_what_it_did_in_dutch(database: Path) -> None:
    result = CliRunner().invoke(app, ["caseload", "rebuild"])

    assert result.exit_code == 0, result.output
    assert (
        "0 records opnieuw afgespeeld (0 overgeslagen als ongeldig), 0 entiteitsfeiten en 0 klantrecords"
        " opnieuw gepubliceerd; de nieuwe tabellen zijn in gebruik."
    ) in " ".join(result.output.split())


def test_a_failed_rebuild_says_so_in_dutch_without_a_traceback(database: Path) -> None:
    # A shadow table gone: the rebuild cannot begin, and the tables in use stay as they are.
    with sqlite3.connect(database) as conn:
        conn.execute(f"DROP TABLE {shadow.events.name}")

    result = CliRunner().invoke(app, ["caseload", "rebuild"])

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Herberekening mislukt: de herbouw is mislukt" in said
    assert "de tabellen in gebruik zijn niet gewijzigd" in said
    assert "Traceback" not in result.output
