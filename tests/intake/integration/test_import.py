"""`stroom import`: NDJSON and CSV exports through intake's validation, without the HTTP service."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import orjson
import pytest
from conftest import PSEUDONYM_KEY
from sqlalchemy import select
from typer.testing import CliRunner

from intake.conftest import consume
from intake.samples import BAD_BSN, BSNS, changed, one_of_each
from stroom_cli.main import app
from stroom_intake.domain.reading import CSV_COLUMNS
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events
from stroom_platform.db import make_engine


@pytest.fixture
def env(settings: IntakeSettings, monkeypatch: pytest.MonkeyPatch) -> IntakeSettings:
    assert settings.kafka_bootstrap_servers is not None
    monkeypatch.setenv("DATABASE_URL", settings.intake_database_url)
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("STROOM_EVENTS_TOPIC", settings.events_topic)
    monkeypatch.setenv("STROOM_INGEST_BATCH_SIZE", "4")
    return settings


def stored(settings: IntakeSettings) -> list[str]:
    async def query() -> list[str]:
        engine = make_engine(settings.intake_database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.scalars(select(events.c.event_id))).all())
        finally:
            await engine.dispose()

    return sorted(asyncio.run(query()))


def test_import_ndjson_and_csv_with_refusals(env: IntakeSettings, tmp_path: Path) -> None:
    good = one_of_each("n")
    bad_bsn = changed(good[2], members=[{"bsn": BAD_BSN, "role": "applicant", "birth_date": "1980-01-01"}])
    lines = [orjson.dumps(e) for e in good[:6]] + [b"{broken", orjson.dumps(bad_bsn | {"id": "n-bad"})]
    ndjson = tmp_path / "export.ndjson"
    ndjson.write_bytes(b"\n".join(lines) + b"\n")
    csv_file = tmp_path / "export.csv"
    with csv_file.open("w", newline="") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS)
        writer.writeheader()
        for raw in one_of_each("c", BSNS[1])[:3]:
            writer.writerow({k: orjson.dumps(v).decode() if k == "data" else v for k, v in raw.items()})
        writer.writerow(
            {"specversion": "1.0", "id": "c-bad", "source": "s", "type": good[0]["type"], "data": "{"}
        )
    errors = tmp_path / "errors.ndjson"

    result = CliRunner().invoke(app, ["import", str(ndjson), str(csv_file), "--errors", str(errors)])

    assert result.exit_code == 1, result.output
    assert "Geweigerd" in result.output
    assert stored(env) == sorted([e["id"] for e in good[:6]] + ["c-0", "c-1", "c-2"])
    refusals = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
    assert [(r["file"], r["line"], r["id"], r["field"]) for r in refusals] == [
        (str(ndjson), 7, None, "event"),
        (str(ndjson), 8, "n-bad", "data.members[0].bsn"),
        (str(csv_file), 5, "c-bad", "data"),
    ]
    assert BAD_BSN not in result.output
    assert BAD_BSN not in errors.read_text()

    again = CliRunner().invoke(app, ["import", str(csv_file)])
    assert again.exit_code == 1
    assert len(stored(env)) == 9


def test_clean_import_and_publish(env: IntakeSettings, tmp_path: Path) -> None:
    good = one_of_each("p")
    export = tmp_path / "export.json"
    export.write_bytes(orjson.dumps(good))

    result = CliRunner().invoke(app, ["import", str(export), "--publish"])

    assert result.exit_code == 0, result.output
    assert f"{len(good)} events gepubliceerd" in result.output
    assert env.kafka_bootstrap_servers is not None
    records = asyncio.run(consume(env.kafka_bootstrap_servers, env.events_topic, expect=len(good)))
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(e["id"] for e in good)
