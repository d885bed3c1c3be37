"""A broker that is gone shows on /status at once, and no /status waits for it."""

from __future__ import annotations

import asyncio

import httpx

from e2e.test_chain import ANALYST, deployment
from stroom_cli.serve import start_services
from stroom_platform.broker import EmbeddedBroker


async def test_status_notices_a_broker_that_is_gone_and_answers(
    postgres_server_url: str,
) -> None:
    broker = EmbeddedBroker()
    await broker.start()
    group = await start_services(await deployment(broker, postgres_server_url), "127.0.0.1")
    try:
        urls = {e.name: e.url for e in group.endpoints}
        async with httpx.AsyncClient(timeout=30, headers=ANALYST) as client:
            intake = (await client.get(f"{urls['intake']}/status")).json()
            assert intake["relay"]["broker_reachable"] is True
            broker.stop()
            for name in ("intake", "reporting"):
                async with asyncio.timeout(10):
                    answer = await client.get(f"{urls[name]}/status")
                assert answer.status_code == 200, name
            intake = (await client.get(f"{urls['intake']}/status")).json()
            assert intake["relay"]["broker_reachable"] is False
        # Back, so that the services need not wait for it while they stop.
        broker = EmbeddedBroker(port=broker.port)
        await broker.start()
    finally:
        await group.stop()
        broker.stop()
