"""The rebuild's steps for one share of the work, and the processes that run them side by side.

Every event of an entity is keyed by that entity, so it lies in one partition: workers each load
some of the partitions into the shadow ledger, keeping what they loaded, and once every
retraction is known fold the entities they hold without reading them back. An entity with events
outside its partition (a stray) is folded from the complete ledger instead. Once swapped in, the
workers each republish a share of the entities (split by a hash of their key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, TypeVar

from aiokafka import TopicPartition
from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam, func, true
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.domain.events import Mark
from stroom_caseload.rebuild.bulk import BulkWriter
from stroom_caseload.rebuild.refold import fold_held, refold
from stroom_caseload.rebuild.replay import Offsets, Replayer, Report
from stroom_caseload.rebuild.republication import republish
from stroom_caseload.rebuild.shadow_ledger import HeldEvents, ShadowLedger
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.retractions import Retraction, Retractions
from stroom_platform.dialect import writers
from stroom_platform.logs import configure_logging
from stroom_platform.memory import peak_rss_mb, without_collection

log = logging.getLogger(__name__)
T = TypeVar("T")
# A step's arguments are its share's, then the progress report and what the process keeps
# between steps.
Step = Callable[..., Coroutine[Any, Any, T]]
Memory = dict[str, Any]
# Under this name in the memory `load` starts with: see `client_revisions`.
REVISIONS = "revisions"


@dataclass(frozen=True)
class Share:
    """Entities whose key hashes to `index` of `count`."""

    index: int
    count: int

    def holds(self, entity_key: Any) -> ColumnElement[bool]:
        if self.count == 1:
            return true()
        hashed = func.hashtext(entity_key).op("&")(0x7FFFFFFF)
        result: ColumnElement[bool] = hashed % self.count == self.index
        return result


@dataclass(frozen=True)
class Loaded:
    records: int
    skipped: int
    marks: dict[tuple[str, str], Mark]
    retractions: list[Retraction]
    # Entities and persons held, and those among them seen in more than one partition.
    keys: set[str]
    strays: set[str]
    # Where each partition's replay stopped: the catch-up goes on from there.
    positions: Offsets


async def load(
    settings: CaseloadSettings,
    tps: list[TopicPartition],
    ends: Offsets,
    report: Report,
    memory: Memory,
) -> Loaded:
    """Appends the records of `tps` up to `ends` (see `Replayer.replay_until`) to the shadow
    ledger, keeping their events for `fold`; gives their retractions, what `shadow_ledger.strays`
    needs, and where each partition's replay stopped. The live point facts' revisions are in
    `memory` (see `Workers`)."""
    engine = settings.database_engine("caseload")
    replayer = Replayer(settings, report)
    try:
        await replayer.start()
        await replayer.assign(tps)
        async with BulkWriter.open(engine) as writer:
            ledger = ShadowLedger(writer, memory.pop(REVISIONS))
            await replayer.replay_until(ledger.add, {tp: ends[tp] for tp in tps})
        memory["held"] = ledger.held
        positions = await replayer.positions(tps)
        return Loaded(
            replayer.records,
            replayer.skipped,
            ledger.marks,
            ledger.retractions,
            ledger.keys,
            ledger.strays,
            positions,
        )
    finally:
        await replayer.stop()
        await engine.dispose()


async def client_revisions(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    """What `load` takes from the memory it starts with: every live point fact's revision."""
    async with engine.connect() as conn:
        return await CaseloadRepository(conn).client_revisions()


async def fold(
    settings: CaseloadSettings,
    retractions: Retractions,
    strays: Collection[str],
    report: Report,
    memory: Memory,
) -> None:
    """The entities and client facts this process loaded, but for the strays; keeps the client
    records for `publish`."""
    held: HeldEvents = memory.pop("held")
    engine = settings.database_engine("caseload")
    try:
        async with BulkWriter.open(engine) as writer:
            memory["records"] = await fold_held(engine, writer, held, retractions, strays)
    finally:
        await engine.dispose()


async def fold_strays(settings: CaseloadSettings, strays: Collection[str]) -> None:
    """The strays' entities and client facts from the complete shadow ledger. Only several
    workers find strays, and only PostgreSQL has several."""
    if not strays:
        return
    engine = settings.database_engine("caseload")
    wanted = bindparam(None, sorted(strays), type_=ARRAY(String))
    try:
        async with BulkWriter.open(engine) as writer:
            await refold(engine, writer, lambda key: key == any_(wanted))
    finally:
        await engine.dispose()


async def publish(
    settings: CaseloadSettings, share: Share, redo: Collection[str], report: Report, memory: Memory
) -> tuple[int, int]:
    """Once swapped in: the share's entity facts, and the client records this process folded
    but for those in `redo` (record ids); (entities, client records)."""
    records = memory.pop("records", [])
    return await republish(settings, share.holds(live.entities.c.entity_key), records, redo)


async def together(*steps: Awaitable[Any]) -> list[Any]:
    """The steps side by side, as `asyncio.gather`, but the first failure cancels the others and
    is raised once they have ended: none goes on unattended while the rebuild stops."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def worker_count(settings: CaseloadSettings, engine: AsyncEngine, partitions: int) -> int:
    return writers(engine, max(1, min(partitions, settings.rebuild_workers or os.cpu_count() or 1)))


def _serve(conn: Connection, reports: Any, log_level: str, memory: Memory) -> None:
    """A worker process: runs the steps it is sent, in turn, until it is sent None."""
    configure_logging(log_level)
    without_collection()
    while (work := conn.recv()) is not None:
        step, args = work
        started = time.process_time()
        try:
            result = asyncio.run(_until_called_off(step(*args, reports.put, memory)))
        except BaseException as exc:  # handed to the rebuild, which raises it
            log.exception("een stap van de herbouw is mislukt")
            try:
                conn.send((False, exc, peak_rss_mb(), time.process_time() - started))
            except Exception:  # not every driver's exception pickles
                failure = RuntimeError(f"{type(exc).__name__}: {exc}")
                conn.send((False, failure, peak_rss_mb(), time.process_time() - started))
        else:
            conn.send((True, result, peak_rss_mb(), time.process_time() - started))


async def _until_called_off(step: Coroutine[Any, Any, T]) -> T:
    """`step`, cancelled (so its clean-up runs) when the rebuild calls it off with SIGTERM."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await step
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


class Workers:
    """Runs a step once per share, with a memory of each share's own that its steps keep between
    them: each share in a process of its own, the same one for every step, where processes can be
    forked; else (one share, or no fork on this platform) all in this one, one after another.
    Records replayed in any of them are reported to `report` here. Each share's memory starts as
    a copy of `memory` holding the same values: a forked process inherits them, and shares in this
    process refer to the one set, where sending them to each process (or each reading them from
    the database) would cost as much again per share."""

    def __init__(
        self,
        count: int,
        log_level: str,
        report: Report,
        memory: Memory,
        forking: bool = "fork" in multiprocessing.get_all_start_methods(),
        grace: float = 10.0,
    ) -> None:
        """`grace`: the seconds a process is given to end a step called off, or to stop, before
        it is killed."""
        self.count = count
        self._log_level = log_level
        self._report = report
        self._forking = forking and count > 1
        self._conns: list[Connection] = []
        self._processes: list[Any] = []
        self._memories: list[Memory] = [dict(memory) for _ in range(count)]
        # The highest peak resident memory of any process that ran a step, and the CPU time
        # each step took in all of them (on a shared machine, steadier than the clock).
        self.peak_rss_mb = 0.0
        self.cpu_seconds: dict[str, float] = {}
        # Per step, the seconds the processes that finished first waited for the last one, summed:
        # a core the step left idle (where the shares were uneven).
        self.idle_seconds: dict[str, float] = {}
        self._grace = grace
        self._drain: asyncio.Future[None] | None = None
        self._gone = threading.Event()

    async def __aenter__(self) -> Workers:
        if self._forking:
            # Forked from this process, which has imported all a step needs: ready at once, where
            # a fresh interpreter importing it took about a second and a half of CPU while the
            # first step waited. A forked process has only the thread that forked it: they are
            # forked before the thread that forwards their progress starts, and use none of the
            # connections they inherit (each step opens its own).
            context = multiprocessing.get_context("fork")
            self._queue = context.Queue()
            for memory in self._memories:
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_serve, args=(theirs, self._queue, self._log_level, memory), daemon=True
                )
                process.start()
                theirs.close()
                self._conns.append(ours)
                self._processes.append(process)
            # Each process holds its own: what this one holds would only be kept alive here.
            self._memories = []
            loop = asyncio.get_running_loop()
            self._drain = loop.run_in_executor(None, self._forward, loop)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._drain is None:
            return
        for conn in self._conns:
            # A process that has gone already has closed its end.
            with contextlib.suppress(OSError):
                conn.send(None)
        for process in self._processes:
            await asyncio.to_thread(process.join, self._grace)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
        self._gone.set()
        await self._drain

    def _forward(self, loop: asyncio.AbstractEventLoop) -> None:
        # Read until the processes are gone, not up to an end marker put here: a process killed
        # while it wrote to the queue leaves the queue's lock taken, and the marker would wait
        # for it for ever.
        while not self._gone.is_set() or not self._queue.empty():
            with contextlib.suppress(queue.Empty):
                records = self._queue.get(timeout=0.1)
                loop.call_soon_threadsafe(self._report, records)

    async def run(self, step: Step[T], shares: Sequence[tuple[Any, ...]]) -> list[T]:
        """`step(*share, report, memory)` for every share, all at once; the first failure is
        raised once the step is called off in the other processes."""
        if not self._processes:
            started = time.process_time()
            results = [
                await step(*share, self._report, memory)
                for share, memory in zip(shares, self._memories, strict=True)
            ]
            self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb())
            self.cpu_seconds[step.__name__] = time.process_time() - started
            return results
        for conn, share in zip(self._conns, shares, strict=True):
            conn.send((step, share))
        waiting = [asyncio.ensure_future(asyncio.to_thread(self._answer, conn)) for conn in self._conns]
        finished: list[float] = []
        try:
            for answer in asyncio.as_completed(waiting):
                ok, result, _, _ = await answer
                if not ok:
                    raise result
                finished.append(time.perf_counter())
        finally:
            # The first failure, or the rebuild's own (which cancels this), calls off the step
            # in the processes still running it: none goes on unattended.
            if not all(answer.done() for answer in waiting):
                await self._call_off(waiting)
        answers = [answer.result() for answer in waiting]
        self.peak_rss_mb = max(self.peak_rss_mb, *(rss for _, _, rss, _ in answers))
        self.cpu_seconds[step.__name__] = sum(cpu for _, _, _, cpu in answers)
        self.idle_seconds[step.__name__] = sum(finished[-1] - at for at in finished)
        return [result for _, result, _, _ in answers]

    async def _call_off(self, waiting: list[asyncio.Task[tuple[bool, Any, float, float]]]) -> None:
        """Cancels the step in each process that has not answered (see `_until_called_off`), and
        kills those that have not answered within the grace: a killed one answers as stopped."""
        running = [
            (process, answer)
            for process, answer in zip(self._processes, waiting, strict=True)
            if not answer.done()
        ]
        for process, _ in running:
            process.terminate()
        _, late = await asyncio.wait([answer for _, answer in running], timeout=self._grace)
        for process, answer in running:
            if answer in late:
                process.kill()
        if late:
            await asyncio.wait(late)

    @staticmethod
    def _answer(conn: Connection) -> tuple[bool, Any, float, float]:
        try:
            answer: tuple[bool, Any, float, float] = conn.recv()
        except (EOFError, ConnectionResetError):
            # Reset rather than ended: the process died with something sent to it still unread.
            return False, RuntimeError("een werkproces van de herbouw stopte onverwacht"), 0.0, 0.0
        return answer
