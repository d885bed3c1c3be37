"""No raw BSN reaches the database, Kafka, the logs or an answer: valid or not, wherever it was put."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData, select

from intake.conftest import consume, wait_published
from intake.samples import BAD_BSN, BSNS, changed, one_of_each
from stroom_intake.settings import IntakeSettings
from stroom_platform.logs import JsonFormatter

BATCH = {"content-type": "application/cloudevents-batch+json"}


async def database_text(app: FastAPI) -> str:
    """Every value of every table, as text."""
    async with app.state.runtime.engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        rows = [str(row) for table in metadata.tables.values() for row in (await conn.execute(select(table)))]
    assert rows, "nothing was stored; the search below would prove nothing"
    return "\n".join(rows)


async def test_no_raw_bsn_anywhere(
    app: FastAPI, client: httpx.AsyncClient, settings: IntakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = [*one_of_each("a", BSNS[0]), *one_of_each("b", BSNS[2])]
    started = good[2]
    bad = [
        changed(started, members=[{"bsn": BAD_BSN, "role": "applicant", "birth_date": "1980-01-01"}])
        | {"id": "x1"},
        changed(started, members=[{"bsn": "000000000", "role": "applicant", "birth_date": "1980-01-01"}])
        | {"id": "x2"},
        # A valid BSN in a refused event, and in a field the contract does not know.
        changed(good[5], ladder_step=9, client={"bsn": BSNS[3]}) | {"id": "x3"},
        changed(good[5], remark=f"BSN {BSNS[3]}") | {"id": "x4"},
        # A conflicting redelivery carrying another BSN gets logged.
        changed(started, members=[{"bsn": BSNS[3], "role": "applicant", "birth_date": "1980-01-01"}]),
    ]
    answers = [
        await client.post("/v1/events", content=orjson.dumps(good + bad), headers=BATCH),
        await client.post("/v1/events", content=orjson.dumps(bad[:3]), headers=BATCH),
        await client.post("/v1/events", content=orjson.dumps([bad[0]]), headers=BATCH),
    ]
    assert [a.status_code for a in answers] == [202, 400, 400]
    # x4 too is refused: a BSN in a field the contract does not know is refused, not dropped.
    summary = answers[0].json()
    assert summary["accepted"] == len(good)
    assert {"x1", "x2", "x3", "x4"} <= {refusal["id"] for refusal in summary["refused"]}
    await wait_published(app)
    assert settings.kafka_bootstrap_servers is not None
    records = await consume(settings.kafka_bootstrap_servers, settings.events_topic, expect=len(good))
    assert len(records) == len(good)

    formatter = JsonFormatter()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert "botst met een eerder event" in logs
    kafka = "\n".join(repr((r.key, r.value, r.headers)) for r in records)
    places = {
        "database": await database_text(app),
        "kafka": kafka,
        "logs": logs,
        "answers": "\n".join(a.text for a in answers),
    }
    for place, text in places.items():
        for bsn in (*BSNS, BAD_BSN):
            assert bsn not in text, f"{bsn} found in {place}"
    assert "ps_" in places["database"]
    assert "ps_" in places["kafka"]
