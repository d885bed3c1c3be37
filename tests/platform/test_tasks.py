"""Stopping a running part ends its background tasks, also one that swallows a cancellation."""

from __future__ import annotations

import asyncio

from stroom_platform.tasks import cancel_and_wait


async def test_a_task_that_swallows_its_first_cancellation_is_ended_all_the_same() -> None:
    cancellations = 0

    async def stubborn() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 2:
                    raise
                # A clean-up that catches the cancellation, as some client libraries do.

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, again_after=0.05), timeout=5)
    assert task.cancelled()
    assert cancellations == 2


async def test_tasks_that_end_or_failed_already_are_waited_for_without_raising() -> None:
    async def fails() -> None:
        raise ValueError("kapot")

    failed = asyncio.create_task(fails())
    running = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    await cancel_and_wait(failed, running)
    assert failed.done()
    assert isinstance(failed.exception(), ValueError)
    assert running.cancelled()
