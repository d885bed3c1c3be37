"""`stroom caseload rebuild` says what it replayed and republished, in Dutch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stroom_caseload.commands import migrate as migrate_caseload
from stroom_cli.main import app
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics


def test_a_rebuild_reports_what_it_did_in_dutch(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
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

    result = CliRunner().invoke(app, ["caseload", "rebuild"])

    assert result.exit_code == 0, result.output
    assert (
        "0 records opnieuw afgespeeld (0 overgeslagen als ongeldig), 0 entiteitsfeiten en 0 klantrecords"
        " opnieuw gepubliceerd; de nieuwe tabellen zijn in gebruik."
    ) in " ".join(result.output.split())
