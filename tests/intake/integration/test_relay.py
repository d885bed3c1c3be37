"""The relay after a crash: nothing lost, and every repeat recognisable by (source, id)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

from conftest import PSEUDONYM_KEY
from sqlalchemy import func, select

from intake.conftest import consume
from intake.samples import assessments, event, one_of_each
from stroom_intake.domain.reading import Position, RawEvent
from stroom_intake.runtime import make_validator
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events
from stroom_platform.db import make_engine

COUNT = 4000


def _relay_process(settings: IntakeSettings) -> subprocess.Popen[bytes]:
    assert settings.kafka_bootstrap_servers is not None
    env = os.environ | {
        "DATABASE_URL": settings.intake_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "STROOM_EVENTS_TOPIC": settings.events_topic,
        "STROOM_TOPIC_PARTITIONS": "3",
        "STROOM_PSEUDONYM_KEY": PSEUDONYM_KEY,
        # Small batches: many commits, so the kill lands between a produce and its commit.
        "STROOM_RELAY_BATCH_SIZE": "40",
        "STROOM_RELAY_POLL_SECONDS": "0.1",
    }
    return subprocess.Popen([sys.executable, "-m", "stroom_intake.outbox"], env=env)


async def test_killed_relay_loses_nothing(settings: IntakeSettings) -> None:
    engine = make_engine(settings.intake_database_url)
    try:
        items = [RawEvent(Position(n), raw) for n, raw in enumerate(assessments(COUNT))]
        report = await Ingestor(engine, make_validator(settings)).ingest(items)
        assert report.accepted.total() == COUNT

        async def published() -> int:
            async with engine.connect() as conn:
                query = select(func.count()).where(events.c.published_at.is_not(None))
                return int(await conn.scalar(query) or 0)

        first = _relay_process(settings)
        try:
            while await published() < COUNT // 10:
                assert first.poll() is None, "the relay exited"
                await asyncio.sleep(0.01)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = await published()
        assert at_kill < COUNT, "the relay finished before it was killed; the test proves nothing"

        second = _relay_process(settings)
        try:
            for _ in range(600):
                if await published() == COUNT:
                    break
                await asyncio.sleep(0.05)
        finally:
            second.terminate()
            second.wait()
        assert await published() == COUNT
    finally:
        await engine.dispose()

    assert settings.kafka_bootstrap_servers is not None
    records = await consume(settings.kafka_bootstrap_servers, settings.events_topic, expect=COUNT)
    first_seen: dict[tuple[bytes, bytes], bytes] = {}
    for record in records:
        headers = dict(record.headers)
        identity = (headers["ce_source"], headers["ce_id"])
        # A repeat is the same record again, so a consumer deduplicating by (source, id) is safe.
        assert first_seen.setdefault(identity, record.value) == record.value
    assert {i.decode() for _, i in first_seen} == {f"as-{n}" for n in range(COUNT)}


async def test_a_retraction_travels_under_the_key_of_what_it_retracts(settings: IntakeSettings) -> None:
    engine = make_engine(settings.intake_database_url)
    try:
        ingestor = Ingestor(engine, make_validator(settings))
        placement = one_of_each("r")[9]
        retract_known = event("stroom.event.retracted.v1", {"retracted_id": "r-9", "reason": "x"}, "r-100")
        retract_unknown = event("stroom.event.retracted.v1", {"retracted_id": "zz", "reason": "x"}, "r-101")
        await ingestor.ingest([RawEvent(Position(0), placement)])
        await ingestor.ingest([RawEvent(Position(0), retract_known), RawEvent(Position(1), retract_unknown)])
        async with engine.connect() as conn:
            keys = dict((await conn.execute(select(events.c.event_id, events.c.entity_key))).all())
    finally:
        await engine.dispose()
    assert keys == {
        "r-9": "placement:gws/hoorn:PL-1",
        "r-100": "placement:gws/hoorn:PL-1",
        "r-101": "retraction:gws/hoorn:zz",
    }


async def test_a_chain_of_retractions_travels_under_the_key_of_the_event_it_ends_at(
    settings: IntakeSettings,
) -> None:
    engine = make_engine(settings.intake_database_url)
    try:
        ingestor = Ingestor(engine, make_validator(settings))
        placement = one_of_each("c")[9]

        def retraction(event_id: str, aimed: str) -> dict[str, Any]:
            return event("stroom.event.retracted.v1", {"retracted_id": aimed, "reason": "x"}, event_id)

        # In one batch, the retraction of the retraction first, then the retraction, then the event.
        batch = [retraction("c-102", "c-101"), retraction("c-101", "c-9"), placement]
        await ingestor.ingest([RawEvent(Position(n), e) for n, e in enumerate(batch)])
        # In a later batch, a third link, and a chain whose end has not arrived.
        later = [retraction("c-103", "c-102"), retraction("c-105", "c-104"), retraction("c-104", "zz")]
        await ingestor.ingest([RawEvent(Position(n), e) for n, e in enumerate(later)])
        async with engine.connect() as conn:
            keys = dict((await conn.execute(select(events.c.event_id, events.c.entity_key))).all())
    finally:
        await engine.dispose()
    assert keys == {
        "c-9": "placement:gws/hoorn:PL-1",
        "c-101": "placement:gws/hoorn:PL-1",
        "c-102": "placement:gws/hoorn:PL-1",
        "c-103": "placement:gws/hoorn:PL-1",
        "c-104": "retraction:gws/hoorn:zz",
        "c-105": "retraction:gws/hoorn:zz",
    }
