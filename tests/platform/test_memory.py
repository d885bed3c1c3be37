"""The collector's batch thresholds for a while, also when several batches overlap."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from stroom_platform.memory import THRESHOLDS, batch_collection

OUTSIDE = (700, 10, 10)


@pytest.fixture(autouse=True)
def thresholds_outside() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*OUTSIDE)
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def test_overlapping_batches_keep_the_batch_thresholds_until_the_last_ends() -> None:
    """A consumer's batch and a restate from a background task, the batch ending first."""
    batch_inside, restate_inside, batch_ended = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: list[tuple[int, ...]] = []

    async def batch() -> None:
        with batch_collection():
            batch_inside.set()
            await restate_inside.wait()
        batch_ended.set()

    async def restate() -> None:
        await batch_inside.wait()
        with batch_collection():
            restate_inside.set()
            await batch_ended.wait()
            seen.append(gc.get_threshold())

    await asyncio.gather(batch(), restate())
    assert seen == [THRESHOLDS]
    assert gc.get_threshold() == OUTSIDE


def test_the_thresholds_come_back_when_a_batch_fails() -> None:
    def failing_batch() -> None:
        with batch_collection():
            assert gc.get_threshold() == THRESHOLDS
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_batch()
    assert gc.get_threshold() == OUTSIDE
