"""The relay's record batches: split when full, in sequence order per key, woken across processes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict

import orjson
import pytest
from running import app_client
from sqlalchemy import func, select

from intake.conftest import CASE_SYSTEM, consume
from intake.samples import assessments
from stroom_intake.app import create_app
from stroom_intake.domain.reading import Position, RawEvent
from stroom_intake.outbox import Relay
from stroom_intake.runtime import make_validator
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events
from stroom_platform.db import make_engine
from stroom_platform.kafka.clients import PROFILES, Broker, BrokerProfile

COUNT = 600
BATCH = {"content-type": "application/cloudevents-batch+json"}


def _relay(
    settings: IntakeSettings, engine: object, profile: BrokerProfile = PROFILES["embedded"], **options: object
) -> Relay:
    assert settings.kafka_bootstrap_servers is not None
    return Relay(
        engine,  # type: ignore[arg-type]
        Broker(settings.kafka_bootstrap_servers, profile),
        settings.events_topic,
        partitions=settings.topic_partitions,
        **options,  # type: ignore[arg-type]
    )


async def _running(relay: Relay) -> asyncio.Task[None]:
    """The relay running, once it has reached the broker."""
    running = asyncio.create_task(relay.run())
    for _ in range(100):
        if relay.broker_reachable:
            break
        await asyncio.sleep(0.05)
    return running


async def test_full_batches_are_split_and_each_key_keeps_its_order(settings: IntakeSettings) -> None:
    engine = make_engine(settings.intake_database_url)
    relay = _relay(settings, engine, batch_size=250, max_batch_bytes=4096)
    try:
        items = [RawEvent(Position(n), raw) for n, raw in enumerate(assessments(COUNT))]
        await Ingestor(engine, make_validator(settings)).ingest(items)
        await relay.start()
        async with relay.exclusive():
            # 4 KiB batches hold a handful of records: the relay has to open many per partition.
            assert await relay.drain() == COUNT
        async with engine.connect() as conn:
            stored = (
                await conn.execute(select(events.c.entity_key, events.c.event_id).order_by(events.c.seq))
            ).all()
            unpublished = await conn.scalar(select(func.count()).where(events.c.published_at.is_(None)))
    finally:
        await relay.stop()
        await engine.dispose()
    assert unpublished == 0

    assert settings.kafka_bootstrap_servers is not None
    records = await consume(settings.kafka_bootstrap_servers, settings.events_topic, expect=COUNT)
    assert len({record.offset for record in records if record.partition == 0}) > COUNT // 50
    published: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        published[record.key.decode()].append(dict(record.headers)["ce_id"].decode())
    expected: dict[str, list[str]] = defaultdict(list)
    for key, event_id in stored:
        expected[key].append(event_id)
    assert published == expected


async def test_a_relay_of_its_own_is_woken_by_commits(settings: IntakeSettings) -> None:
    if not settings.intake_database_url.startswith("postgresql"):
        pytest.skip("announcements are PostgreSQL LISTEN/NOTIFY; SQLite runs the relay in the app")
    engine = make_engine(settings.intake_database_url)
    # Polling once a minute: publication within seconds can only come from the announcement.
    relay = _relay(settings, engine, poll_seconds=60.0)
    # Time to connect, drain the empty outbox and fall asleep until woken.
    running = await _running(relay)
    try:
        await asyncio.sleep(0.5)
        items = [RawEvent(Position(n), raw) for n, raw in enumerate(assessments(50, prefix="w"))]
        await Ingestor(engine, make_validator(settings)).ingest(items)
        unpublished: int | None = None
        for _ in range(100):
            async with engine.connect() as conn:
                unpublished = await conn.scalar(select(func.count()).where(events.c.published_at.is_(None)))
            if unpublished == 0:
                break
            await asyncio.sleep(0.05)
        assert unpublished == 0
    finally:
        relay.request_stop()
        await running
        await engine.dispose()


async def test_commits_within_the_publish_interval_go_out_in_one_round(settings: IntakeSettings) -> None:
    """The broker profile's publish interval: a relay woken again within it waits for its end, and
    sends what was committed meanwhile together, in the same record batches."""
    engine = make_engine(settings.intake_database_url)
    profile = dataclasses.replace(PROFILES["embedded"], publish_interval_ms=2000)
    rounds: list[int] = []
    relay = _relay(settings, engine, profile, poll_seconds=60.0, on_published=rounds.append)
    ingestor = Ingestor(engine, make_validator(settings), on_stored=relay.wake)
    running = await _running(relay)
    try:
        # The interval of the first (empty) round passes: the first commit is sent at once.
        await asyncio.sleep(2.2)
        for n in range(4):
            sample = assessments(10, prefix=f"i{n}")
            await ingestor.ingest([RawEvent(Position(i), raw) for i, raw in enumerate(sample)])
            # Apart by more than a round takes: without the interval, each commit is a round.
            await asyncio.sleep(0.15)
        for _ in range(100):
            if sum(rounds) >= 40:
                break
            await asyncio.sleep(0.05)
    finally:
        relay.request_stop()
        await running
        await engine.dispose()
    assert sum(rounds) == 40
    assert len(rounds) == 2


async def test_an_app_without_its_own_relay_leaves_publishing_to_the_relay_process(
    settings: IntakeSettings,
) -> None:
    app = create_app(settings.model_copy(update={"relay_in_app": False}))
    async with app_client(app, "http://intake", CASE_SYSTEM) as client:
        body = orjson.dumps(assessments(5, prefix="n"))
        answer = await client.post("/v1/events", content=body, headers=BATCH)
        assert answer.json()["accepted"] == 5
        await asyncio.sleep(0.5)
        status = (await client.get("/status")).json()
    assert status["relay"]["configured"] is False
    assert status["outbox"]["backlog"] == 5
