"""Ending the background tasks a running part owns, when it stops."""

from __future__ import annotations

import asyncio
from typing import Any

# How long a cancelled task may take to end before it is cancelled again.
AGAIN_AFTER_SECONDS = 1.0


async def cancel_and_wait(*tasks: asyncio.Task[Any], again_after: float = AGAIN_AFTER_SECONDS) -> None:
    """Cancel `tasks` and wait until every one has ended; what they raised is dropped.

    One cancellation is not always enough: a library may catch CancelledError in its own clean-up
    (aiokafka's clients while stopping), and on Python 3.11 `asyncio.timeout` can take a
    cancellation that coincides with its expiry for its own, raising TimeoutError, which a retry
    loop then survives. A stop that awaited such a task once would wait for ever, so a task still
    running after `again_after` seconds is cancelled again.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=again_after)
    await asyncio.gather(*tasks, return_exceptions=True)
