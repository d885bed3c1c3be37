"""Intake's readiness checks the broker too; its freshness gauge is the wait of the oldest unpublished."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from running import app_client
from sqlalchemy import select

from intake.conftest import CASE_SYSTEM, wait_published
from intake.samples import one_of_each
from stroom_intake.app import create_app
from stroom_intake.domain.reading import Position, RawEvent
from stroom_intake.runtime import make_validator
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events
from stroom_platform.broker import free_port
from stroom_platform.db import make_engine

BATCH = {"content-type": "application/cloudevents-batch+json"}


@asynccontextmanager
async def _serving(settings: IntakeSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app of `settings` with its lifespan running, and a client of the case system."""
    app = create_app(settings)
    async with app_client(app, "http://intake", CASE_SYSTEM) as client:
        yield app, client


def gauge(metrics: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    assert found, name
    return float(found.group(1))


async def test_unpublished_events_age_and_an_unreachable_broker_is_not_ready(
    settings: IntakeSettings,
) -> None:
    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    async with _serving(unreachable) as (_, client):
        assert (
            await client.post("/v1/events", content=orjson.dumps(one_of_each("f")), headers=BATCH)
        ).status_code == 202
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert set(ready.json()["failed"]) == {"broker"}
        await client.get("/status")
        first = gauge((await client.get("/metrics")).text, "stroom_intake_freshness_seconds")
        await asyncio.sleep(0.01)
        await client.get("/status")
        later = gauge((await client.get("/metrics")).text, "stroom_intake_freshness_seconds")
    assert 0 < first < later


async def test_published_records_carry_the_acceptance_time(settings: IntakeSettings) -> None:
    async with _serving(settings) as (app, client):
        await client.post("/v1/events", content=orjson.dumps(one_of_each("t")[:3]), headers=BATCH)
        await wait_published(app)
        assert (await client.get("/readyz")).json()["checks"] == ["broker", "database"]
        await client.get("/status")
        assert gauge((await client.get("/metrics")).text, "stroom_intake_freshness_seconds") == 0
        async with app.state.runtime.engine.connect() as conn:
            accepted = {
                row.event_id: row.received_at
                for row in await conn.execute(select(events.c.event_id, events.c.received_at))
            }
    consumer = AIOKafkaConsumer(
        settings.events_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        stamps: dict[str, int] = {}
        while len(stamps) < 3:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    stamps[dict(record.headers)["ce_id"].decode()] = record.timestamp
    finally:
        await consumer.stop()
    for event_id, stamp in stamps.items():
        moment = accepted[event_id]
        expected = (
            moment.timestamp()
            if moment.tzinfo
            else moment.replace(tzinfo=__import__("datetime").UTC).timestamp()
        )
        assert stamp == int(expected * 1000)


async def test_events_imported_by_the_cli_are_counted(settings: IntakeSettings) -> None:
    """`stroom import` stores without the service; its status and metrics count them all the same."""
    imported = one_of_each("cli")
    engine = make_engine(settings.intake_database_url)
    try:
        items = [RawEvent(Position(n), raw) for n, raw in enumerate(imported)]
        report = await Ingestor(engine, make_validator(settings)).ingest(items)
    finally:
        await engine.dispose()
    assert report.accepted.total() == len(imported)
    async with _serving(settings) as (_, client):
        await client.post("/v1/events", content=orjson.dumps(one_of_each("http")[:2]), headers=BATCH)
        status = (await client.get("/status")).json()
        metrics = (await client.get("/metrics")).text
    assert status["events"]["stored"] == len(imported) + 2
    assert status["events"]["accepted"] == 2
    per_type = re.findall(r'^stroom_intake_events_stored_total\{type="[^"]+"\} (\S+)$', metrics, re.MULTILINE)
    assert sum(float(n) for n in per_type) == len(imported) + 2
