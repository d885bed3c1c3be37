"""An acknowledgement is a promise also when the broker comes back empty.

The embedded broker keeps nothing across restarts; a Kafka cluster can be rebuilt from nothing.
Intake's outbox republishes, consumers read the new log from its start and deduplicate by their
own records, and the reports end equal to the reference computed from the raw events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from e2e import reference
from e2e.test_chain import ANALYST, Chain, deployment, months_of, shuffled
from stroom_caseload.tables import live
from stroom_cli.pipeline import wait_until_settled
from stroom_cli.serve import start_services
from stroom_platform.broker import EmbeddedBroker, TopicSpec
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.serving import AppGroup
from stroom_simulator import simulate_history

START = date(2023, 1, 1)
YEARS = 2


async def _restart_empty(broker: EmbeddedBroker, topics: list[TopicSpec]) -> EmbeddedBroker:
    """A new broker process on the same address, as after a restart on memory storage."""
    broker.stop()
    fresh = EmbeddedBroker(port=broker.port)
    await fresh.start(topics)
    return fresh


@pytest.mark.long
async def test_a_broker_restarted_empty_loses_and_doubles_nothing(
    postgres_server_url: str, organisations: OrganisationsConfig
) -> None:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    raw = list(simulate_history(org, years=YEARS, seed=23, start=START, scale=0.02, noise=True))
    delivered = shuffled(raw)
    chunks = [delivered[i::4] for i in range(4)]
    broker = EmbeddedBroker()
    await broker.start()
    services = {s.name: s for s in await deployment(broker, postgres_server_url)}
    topics = [
        TopicSpec(getattr(services["intake"].settings, name), 4)
        for name in ("events_topic", "facts_topic", "dead_letter_topic")
    ]
    engine = make_engine(services["caseload"].database_url)
    running: dict[str, AppGroup] = {}

    async def start(*names: str) -> None:
        for name in names:
            running[name] = await start_services([services[name]], "127.0.0.1")

    async def stop(*names: str) -> None:
        for name in names:
            await running.pop(name).stop()

    async def restart_beneath(
        chain: Chain,
        stopped: str,
        posted: int,
        until: Callable[[httpx.AsyncClient, str], Awaitable[None]],
        of: str,
    ) -> None:
        """With `stopped` stopped, chunk `posted` posted and `until` reached on service `of`, the
        broker restarted empty; the reports then equal the reference of every chunk up to it."""
        nonlocal broker
        await stop(stopped)
        await chain.post(chunks[posted])
        await until(chain.client, chain.urls[of])
        broker = await _restart_empty(broker, topics)
        await start(stopped)
        chain.urls[stopped] = running[stopped].endpoints[0].url
        await wait_until_settled(chain.client, chain.urls)
        await _assert_reference(chain, chunks[: posted + 1], engine)

    await start("intake", "caseload", "reporting")
    try:
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            chain = Chain({name: group.endpoints[0].url for name, group in running.items()}, client)
            await chain.post(chunks[0])
            await wait_until_settled(client, chain.urls)

            # Events the old broker acknowledged but no consumer had read yet.
            await restart_beneath(chain, "caseload", 1, _until_published, "intake")
            # Facts the old broker held that reporting had not read yet, the broker restarted
            # beneath a running caseload worker whose positions lie beyond the new log's start.
            await restart_beneath(chain, "reporting", 2, _until_caught_up, "caseload")

            # Everything stopped and started again around a new broker, as `stroom serve` does.
            await stop("caseload", "reporting")
            await chain.post(chunks[3])
            await _until_published(client, chain.urls["intake"])
            await stop("intake")
            broker = await _restart_empty(broker, topics)
            await start("intake", "caseload", "reporting")
            chain.urls = {name: group.endpoints[0].url for name, group in running.items()}
            await wait_until_settled(client, chain.urls)
            await _assert_reference(chain, chunks, engine)
    finally:
        for group in running.values():
            await group.stop()
        await engine.dispose()
        broker.stop()


async def _until_published(client: httpx.AsyncClient, intake: str) -> None:
    async with asyncio.timeout(60):
        while (await client.get(f"{intake}/status")).json()["outbox"].get("backlog") != 0:  # noqa: ASYNC110 - another service
            await asyncio.sleep(0.2)


async def _until_caught_up(client: httpx.AsyncClient, caseload: str) -> None:
    async with asyncio.timeout(60):
        while (await client.get(f"{caseload}/status")).json().get("total_lag") != 0:  # noqa: ASYNC110 - another service
            await asyncio.sleep(0.2)


async def _assert_reference(chain: Chain, chunks: list[list[dict[str, Any]]], engine: AsyncEngine) -> None:
    """The reports equal the reference of the events posted so far, each applied once."""
    raw = [event for chunk in chunks for event in chunk]
    months = months_of(START, YEARS)
    expected = reference.monthly(raw, None, months)
    actual = await chain.monthly(months)
    assert {k for k, v in actual.items() if any(v)} == set(expected)
    assert actual == {key: expected.get(key, (0, 0, 0, 0)) for key in actual}
    async with engine.connect() as conn:
        # Rows without a type only hold a retraction of an event that has not arrived.
        stored = select(live.events.c.source, live.events.c.event_id).where(live.events.c.type.is_not(None))
        applied = {(source, event_id) for source, event_id in (await conn.execute(stored)).all()}
    assert applied == {(e["source"], e["id"]) for e in raw}
    status = (await chain.client.get(f"{chain.urls['caseload']}/status")).json()
    assert status["dead_letters"] == 0
