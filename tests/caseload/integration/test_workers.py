"""Two worker processes in one consumer group, one of them killed with SIGKILL mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from caseload.history import deliver, simulate
from caseload.integration.expectations import assert_facts_match_database, assert_projections_match
from caseload.integration.publishing import publish, read_all, wait_until_caught_up
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker, free_port
from stroom_platform.db import make_engine

MUNICIPALITIES = ["GM0405", "GM0420", "GM0532", "GM0388"]
FIRST = date(2021, 1, 1)
MONTHS = 30


def start_worker(settings: CaseloadSettings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "DATABASE_URL": settings.database_url or "",
        "STROOM_EVENTS_TOPIC": settings.events_topic,
        "STROOM_FACTS_TOPIC": settings.facts_topic,
        "STROOM_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "STROOM_CONSUMER_GROUP": settings.consumer_group,
        "STROOM_HTTP_PORT": str(port),
        # Small batches: many transactions, so the kill lands in the middle of the work.
        "STROOM_BATCH_SIZE": "10",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "stroom_caseload"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.long
async def test_two_workers_and_a_killed_one_still_give_the_reference(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    tmp_path: Path,
) -> None:
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=23, per_month=3)
    delivered = deliver(raw, seed=9, duplicates=0.2)
    # The rest is published after the kill: however slow this process is to see the workers'
    # progress, the stream cannot have been worked through before the kill lands.
    half = len(delivered) // 2
    await publish(broker.bootstrap_servers, settings.events_topic, raw, delivered[:half], validator)

    engine = make_engine(settings.caseload_database_url)
    ports = [free_port(), free_port()]
    log = tmp_path / "workers.log"
    workers = [start_worker(settings, port, log) for port in ports]
    try:
        applied = 0
        async with asyncio.timeout(60):
            while applied < 200:
                await asyncio.sleep(0.05)
                async with engine.connect() as conn:
                    applied = (await conn.execute(select(func.count()).select_from(live.events))).scalar_one()
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        workers[0] = start_worker(settings, ports[0], log)
        await publish(broker.bootstrap_servers, settings.events_topic, raw, delivered[half:], validator)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=10) as client:
            status = await wait_until_caught_up(client, within=90)
        assert status["dead_letters"] == 0
        assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 50
        await assert_facts_match_database(
            engine, await read_all(broker.bootstrap_servers, settings.facts_topic)
        )
    finally:
        for worker in workers:
            stop(worker)
        await engine.dispose()
