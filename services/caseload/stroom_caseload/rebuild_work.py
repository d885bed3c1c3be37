"""The rebuild's steps for one share of the work, and the processes that run them side by side.

Every event of an entity is keyed by that entity, so it lies in one partition: workers can each
load some of the partitions into the shadow ledger, and later each fold and republish a share of
the entities (split by a hash of their key) once the ledger is complete.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.bulk import BulkWriter
from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.publishing import send_all
from stroom_caseload.refold import refold
from stroom_caseload.replay import Offsets, Replayer, Report
from stroom_caseload.repository import ClientRow, stored_event
from stroom_caseload.service import client_records
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.shadow_ledger import Mark, ShadowLedger
from stroom_caseload.tables import live
from stroom_platform.db import make_engine
from stroom_platform.logs import configure_logging
from stroom_platform.memory import peak_rss_mb, tune_for_batches

T = TypeVar("T")
Step = Callable[..., Coroutine[Any, Any, T]]


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


async def load(
    settings: CaseloadSettings, tps: list[TopicPartition], ends: Offsets, report: Report
) -> Loaded:
    """Appends the records of `tps` before `ends` to the shadow ledger; gives their retractions."""
    engine = make_engine(settings.caseload_database_url)
    replayer = Replayer(settings, report)
    try:
        await replayer.start()
        await replayer.assign(tps)
        async with BulkWriter.open(engine) as writer:
            ledger = ShadowLedger(writer)
            await replayer.replay_until(ledger.add, {tp: ends[tp] for tp in tps})
        return Loaded(replayer.records, replayer.skipped, ledger.marks)
    finally:
        await replayer.stop()
        await engine.dispose()


async def fold(settings: CaseloadSettings, share: Share, report: Report) -> None:
    """The share's entities and client facts from the complete shadow ledger."""
    engine = make_engine(settings.caseload_database_url)
    try:
        async with BulkWriter.open(engine) as writer:
            await refold(engine, writer, share.holds)
    finally:
        await engine.dispose()


async def republish(settings: CaseloadSettings, share: Share, report: Report) -> tuple[int, int]:
    """Every entity fact and client record of the share, from the live tables once swapped in:
    (entities, client records)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=20,
        max_batch_size=settings.facts_batch_bytes,
    )
    engine = make_engine(settings.caseload_database_url)
    await producer.start()
    entities = clients = 0
    try:
        async with engine.connect() as conn:
            en = live.entities
            result = await conn.stream(
                select(en.c.entity_key, en.c.fact)
                .where(share.holds(en.c.entity_key))
                .execution_options(yield_per=5000)
            )
            async for rows in result.partitions():
                await send_all(producer, settings.facts_topic, ((k.encode(), f.encode()) for k, f in rows))
                entities += len(rows)
            ev = live.events
            client_events = await conn.stream(
                select(ev.c.source, ev.c.event_id, ev.c.wire, ev.c.retracted_at, ev.c.revision)
                .where(
                    ev.c.wire.is_not(None),
                    ev.c.type.in_(sorted(CLIENT_EVENT_TYPES)),
                    share.holds(ev.c.entity_key),
                )
                .execution_options(yield_per=5000)
            )
            async for batch in client_events.partitions():
                stored = [(r, stored_event(r.wire, r.retracted_at)) for r in batch]
                records = [
                    ClientRow(r.source, r.event_id, e.event, e.retracted_at, r.revision) for r, e in stored
                ]
                facts = client_records(records)
                await send_all(producer, settings.facts_topic, ((f.key.encode(), f.value) for f in facts))
                clients += len(records)
        await producer.flush()
    finally:
        await producer.stop()
        await engine.dispose()
    return entities, clients


def worker_count(settings: CaseloadSettings, engine: AsyncEngine, partitions: int) -> int:
    # SQLite has one writer at a time: more processes would only wait for each other.
    if engine.dialect.name != "postgresql":
        return 1
    return max(1, min(partitions, settings.rebuild_workers or os.cpu_count() or 1))


_queue: Any = None


def _start_process(queue: Any, log_level: str) -> None:
    global _queue
    _queue = queue
    configure_logging(log_level)
    tune_for_batches()


def _run_in_process(step: Step[T], args: tuple[Any, ...]) -> tuple[T, float]:
    return asyncio.run(step(*args, _queue.put)), peak_rss_mb()


class Workers:
    """Runs a step once per share: in processes of their own, or in this one when there is one
    share. Records replayed in any of them are reported to `report` here."""

    def __init__(self, count: int, log_level: str, report: Report) -> None:
        self.count = count
        self._log_level = log_level
        self._report = report
        self._pool: ProcessPoolExecutor | None = None
        # The highest peak resident memory of any process that ran a step.
        self.peak_rss_mb = 0.0
        self._drain: asyncio.Future[None] | None = None

    async def __aenter__(self) -> Workers:
        if self.count > 1:
            # Forked from a server that has imported this module once, not each importing it anew.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._queue = context.Queue()
            self._pool = ProcessPoolExecutor(
                self.count,
                mp_context=context,
                initializer=_start_process,
                initargs=(self._queue, self._log_level),
            )
            loop = asyncio.get_running_loop()
            self._drain = loop.run_in_executor(None, self._forward, loop)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._queue.put(None)
            assert self._drain is not None
            await self._drain

    def _forward(self, loop: asyncio.AbstractEventLoop) -> None:
        while (records := self._queue.get()) is not None:
            loop.call_soon_threadsafe(self._report, records)

    async def run(self, step: Step[T], shares: Sequence[tuple[Any, ...]]) -> list[T]:
        """`step(*share, report)` for every share, all at once."""
        if self._pool is None:
            results = [await step(*share, self._report) for share in shares]
            self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb())
            return results
        loop = asyncio.get_running_loop()
        pool = self._pool
        ran = await asyncio.gather(
            *(loop.run_in_executor(pool, _run_in_process, step, share) for share in shares)
        )
        self.peak_rss_mb = max(self.peak_rss_mb, *(rss for _, rss in ran))
        return [result for result, _ in ran]
