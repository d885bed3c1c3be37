"""The read models' generation as this process knows it without asking the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_platform.tasks import cancel_and_wait
from stroom_reporting import queries

log = logging.getLogger(__name__)

# How often the watch reads the generation itself: a move whose notification never came (a
# connection that stopped delivering without closing) is noticed within this time.
CHECK_SECONDS = 1.0
# The wait before connecting again after the connection was lost or could not be made.
RECONNECT_SECONDS = 1.0


class GenerationWatch:
    """The generation standing now (`known`), known without a round trip while a connection of
    `engine` (autocommit: it must stay idle) listens to its moves (queries.generation_moves). A
    move makes it unknown until a read teaches it again (`learn`); so does a lost connection, and
    before the connection listens and on SQLite, which tells no one, it is never known: then each
    request reads it.

    A move is heard just after its commit: a request in between may get the answer kept under the
    generation before, as it would have a moment earlier."""

    def __init__(self, engine: AsyncEngine, check_seconds: float = CHECK_SECONDS) -> None:
        self._engine = engine
        self.check_seconds = check_seconds
        self.known: int | None = None
        # Moves heard and connections lost: a read teaches nothing if one came while it ran.
        self.moves = 0
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    def learn(self, generation: int, moves: int) -> None:
        """`generation` was read when `moves` was the count: it stands unless one came since."""
        if self._listening and moves == self.moves:
            self.known = generation

    def _moved(self) -> None:
        self.moves += 1
        self.known = None

    def _lost(self) -> None:
        self._listening = False
        self._moved()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="generation-watch")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self._lost()

    async def _run(self) -> None:
        while True:
            try:
                if not await self._listen():
                    return
            except Exception as exc:
                log.warning(
                    "generatiebewaking: verbinding met de database verloren; opnieuw verbinden",
                    extra={"error": type(exc).__name__},
                )
            finally:
                self._lost()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> bool:
        """Listen until the connection is lost; False at once where nothing is told."""
        lost = asyncio.Event()
        async with (
            self._engine.connect() as conn,
            queries.generation_moves(conn, self._moved, lost.set) as listening,
        ):
            if not listening:
                return False
            self._listening = True
            while not lost.is_set():
                moves = self.moves
                generation = await queries.generation(conn)
                await conn.rollback()
                self.learn(generation, moves)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.check_seconds)
        return True
