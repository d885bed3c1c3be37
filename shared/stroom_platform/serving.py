"""Runs one or more ASGI apps on their own ports in one event loop, stopping them together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from uvicorn.loops.auto import auto_loop_factory

from stroom_platform.tasks import cancel_and_wait

T = TypeVar("T")

# An idle connection is closed by its client, not by us: a server that closes first races the
# client's next request on that connection, which then dies unanswered (httpx: "Server
# disconnected without sending a response", or a ReadError on the reset). httpx keeps idle
# connections 5 s, uvicorn's own default, so under load the two met; load balancers in front
# keep theirs up to 60 s, and the server's idle time must outlast those too.
KEEP_ALIVE_SECONDS = 75


def run(main: Coroutine[Any, Any, T]) -> T:
    """`main` run as `asyncio.run` does, on the event loop `uvicorn.run` would choose: uvloop,
    which uvicorn[standard] installs. With its loop and transports in C a served report costs the
    server an eighth fewer instructions than on asyncio's own loop."""
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        return runner.run(_cancelled_by_signals(main))


async def _cancelled_by_signals(main: Coroutine[Any, Any, T]) -> T:
    """`main`, cancelled by SIGINT or SIGTERM (asyncio.CancelledError) until an AppGroup takes the
    signals over: also while it starts a broker or migrates, and also in a process that started
    with SIGINT ignored, as a script's background job does; the default SIGTERM would leave the
    broker running."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await main


class Stopped(Exception):
    """A signal stopped the servers before the work beside them was done."""


class _Server(uvicorn.Server):
    # The caller owns signal handling: several servers share one process and stop together.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class Endpoint:
    name: str
    app: FastAPI
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class AppGroup:
    """Start with `await group.start()`; `await group.wait()` returns when a signal arrives."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = endpoints
        self._servers = [
            _Server(
                uvicorn.Config(
                    e.app,
                    host=e.host,
                    port=e.port,
                    log_config=None,
                    lifespan="on",
                    timeout_keep_alive=KEEP_ALIVE_SECONDS,
                    # No `server: uvicorn`: what software answers is no caller's business.
                    server_header=False,
                )
            )
            for e in endpoints
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        for server in self._servers:
            self._tasks.append(asyncio.create_task(server.serve()))
            while not server.started:
                if self._tasks[-1].done():
                    # Start-up failed (port taken, lifespan error): surface it now.
                    self._tasks[-1].result()
                    raise RuntimeError("server gestopt tijdens het opstarten")
                await asyncio.sleep(0.05)

    async def wait(self) -> None:
        done = asyncio.create_task(self._stop.wait())
        await asyncio.wait([done, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        done.cancel()

    async def until_stopped(self, work: Coroutine[Any, Any, T]) -> T:
        """What `work` returns, run beside the servers; a signal (or a server's end) that comes
        first cancels it and raises Stopped."""
        task = asyncio.create_task(work)
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait([task, stop, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(stop, task)
        if task.cancelled():
            raise Stopped
        return task.result()

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
