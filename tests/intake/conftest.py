"""Intake fixtures: settings on a migrated database, and the app with its lifespan running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from conftest import PSEUDONYM_KEY, bearer
from fastapi import FastAPI

from stroom_intake.app import create_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.broker import EmbeddedBroker


@pytest.fixture
async def settings(intake_database: str, broker: EmbeddedBroker, unique_topic: str) -> IntakeSettings:
    return IntakeSettings(
        pseudonym_key=PSEUDONYM_KEY,
        database_url=intake_database,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        events_topic=unique_topic,
        topic_partitions=3,
        relay_poll_seconds=0.2,
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
async def app(settings: IntakeSettings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


# The case system of the samples (tests/intake/samples.py), which may also read intake's status.
CASE_SYSTEM = bearer(
    "events:write",
    "ops:read",
    organisation="werksaam-westfriesland",
    # Also its NL GOV (OIN) name and a second municipality's, as test_sequences.py sends.
    sources=[
        "gws/hoorn",
        "gws/enkhuizen",
        "gws/opmeer",
        "urn:nld:oin:00000001823288444000:systeem:gws-hoorn",
    ],
)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=CASE_SYSTEM) as http:
        yield http


async def consume(
    bootstrap_servers: str, topic: str, *, expect: int, within: float = 10.0
) -> list[ConsumerRecord]:
    """Every record of `topic` from the start: waits until `expect` arrived, then a little longer."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = asyncio.get_running_loop().time() + within
    try:
        # After `expect` records, one more quiet poll shows whether anything was published twice.
        quiet = False
        while asyncio.get_running_loop().time() < deadline and not quiet:
            batch = await consumer.getmany(timeout_ms=500)
            got = [record for partition in batch.values() for record in partition]
            records.extend(got)
            quiet = not got and len(records) >= expect
    finally:
        await consumer.stop()
    return records


async def wait_published(app: FastAPI, *, within: float = 10.0) -> None:
    """Until the outbox is empty."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        status = await app.state.runtime.status()
        if status["outbox"]["backlog"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the relay did not empty the outbox")
