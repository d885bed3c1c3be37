"""The consumer's shortcut through faust's per-message race keeps the race's outcomes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stroom_caseload.faust_transport import app_class


@pytest.fixture
async def consumer() -> Any:
    # Made in the running loop, as the worker makes its faust app.
    app = app_class(100)("transport-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    return app.consumer


async def test_a_delivery_that_ends_at_once_wins(consumer: Any) -> None:
    async def deliver() -> str:
        return "delivered"

    results = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    assert results.results == ["delivered"]
    assert not results.stopped


async def test_a_waiting_delivery_is_cancelled_when_the_flow_is_suspended(consumer: Any) -> None:
    started, blocked, cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def deliver() -> None:
        started.set()
        try:
            await blocked.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    race = asyncio.create_task(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
    await started.wait()
    consumer.suspend_flow.set()
    results = await race
    await cancelled.wait()

    assert not results.stopped


async def test_a_failing_delivery_raises(consumer: Any) -> None:
    async def deliver() -> None:
        raise ValueError("undeliverable")

    with pytest.raises(ValueError, match="undeliverable"):
        await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
