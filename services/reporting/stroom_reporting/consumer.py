"""The facts consumer: each batch applied in one transaction; a fact outside the contract is
dead-lettered with its reason, and the rest of its batch applied."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_contract.facts import Fact
from stroom_contract.messages import summary
from stroom_platform.broker import EpochWatch
from stroom_platform.kafka.clients import broker_of
from stroom_platform.kafka.consuming import BatchConsumer, ConsumerOptions, Done, Record
from stroom_platform.kafka.dead_letters import Refusal, dead_letter
from stroom_platform.kafka.lag import LagProbe
from stroom_platform.memory import batch_collection
from stroom_platform.organisations import load_organisations
from stroom_platform.tasks import cancel_and_wait
from stroom_reporting.repository import Applied, apply_facts, reclaim_pending, restate_kpis_apart
from stroom_reporting.settings import ReportingSettings

log = logging.getLogger(__name__)

FACT_ADAPTER: TypeAdapter[Fact] = TypeAdapter(Fact)


@dataclass
class KpiRestates:
    """When the KPI cells left pending by the batches are restated (settings.kpi_restate_facts and
    kpi_restate_seconds): after a batch less than full, once `facts` facts were applied since the
    last restate, or once the first batch pending is `seconds` old. A new process finds pending
    what the one before left, so the first batch it applies restates."""

    seconds: float
    batch_size: int
    facts: int = 48_000
    # The monotonic time of the first batch applied since the last restate; None: none pending.
    pending_since: float | None = float("-inf")
    # Facts applied since the last restate.
    waiting: int = 0
    # Benefits and plans restated since the pending queue's space was last reclaimed, and how many
    # make it worth a VACUUM (a few milliseconds): a backlog's restate takes some ten thousand,
    # live traffic's a few, whose rows may then wait for autovacuum or a later reclaim.
    unreclaimed: int = 0
    reclaim_after: int = 5000

    def applied(self, batch: int, now: float) -> bool:
        """A batch of `batch` facts was applied at `now`: whether to restate now."""
        if self.pending_since is None:
            self.pending_since = now
        self.waiting += batch
        return batch < self.batch_size or self.waiting >= self.facts or self.overdue(now)

    def overdue(self, now: float) -> bool:
        """Whether what is pending has waited `seconds` at `now`."""
        return self.pending_since is not None and now - self.pending_since >= self.seconds

    def restated(self, restated: int = 0) -> bool:
        """A restate of `restated` benefits and plans ended: whether to reclaim the space of the
        pending queue's deleted rows now (`repository.reclaim_pending`)."""
        self.pending_since = None
        self.waiting = 0
        self.unreclaimed += restated
        if self.unreclaimed < self.reclaim_after:
            return False
        self.unreclaimed = 0
        return True


class FactsConsumer:
    """At-least-once: a crash between commit of the transaction and of the offsets redelivers
    facts, which the revisions make harmless (a change at or below the revision applied is
    ignored)."""

    def __init__(self, settings: ReportingSettings, engine: AsyncEngine, registry: CollectorRegistry) -> None:
        self._settings = settings
        self._organisations = load_organisations(settings.organisations_file)
        self._engine = engine
        self._broker = broker_of(settings)
        self._consumer: BatchConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._probe: LagProbe | None = None
        self._watch: asyncio.Task[None] | None = None
        self._facts = Counter(
            "stroom_reporting_facts", "Facts consumed, by outcome", ["outcome"], registry=registry
        )
        self._batch_seconds = Histogram(
            "stroom_reporting_batch_apply_seconds", "Time to apply one batch of facts", registry=registry
        )
        self._restates = KpiRestates(
            settings.kpi_restate_seconds, settings.consumer_batch_size, settings.kpi_restate_facts
        )
        # A batch and a restate when idle one after the other: a restate that ends has taken in
        # every batch applied before, and the batches after it are pending anew.
        self._writing = asyncio.Lock()
        self._idle: asyncio.Task[None] | None = None
        self._restate_seconds = Histogram(
            "stroom_reporting_kpi_restate_seconds",
            "Time to restate the KPI cells the batches since the last restate left pending",
            registry=registry,
        )
        self._freshness = Gauge(
            "stroom_reporting_freshness_seconds",
            "Seconds from the publication of the newest fact of the last batch to its figures being "
            "readable in the reports",
            registry=registry,
        )

    @property
    def last_batch_at(self) -> datetime | None:
        return self._consumer.last_batch_at if self._consumer else None

    @property
    def last_error(self) -> str | None:
        return self._consumer.last_error if self._consumer else None

    @property
    def facts_waiting(self) -> int:
        """Facts applied since the KPI cells were last restated: a backlog's restate comes once
        they reach settings.kpi_restate_facts."""
        return self._restates.waiting

    async def start(self) -> None:
        settings = self._settings
        assert settings.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS is required to consume"
        self._producer = self._broker.producer()
        await self._producer.start()
        self._probe = LagProbe(self._broker, settings.consumer_group, settings.facts_topic)
        await self._probe.start()
        options = ConsumerOptions(
            batch_size=settings.consumer_batch_size, batch_within_seconds=settings.consumer_poll_ms / 1000
        )
        self._consumer = BatchConsumer(
            self._broker, settings.facts_topic, settings.consumer_group, self._handle, options
        )
        await self._consumer.start()
        # A new broker log: the facts come again from its start; the revisions sort them out.
        watch = EpochWatch(self._broker, self._consumer.rewind)
        self._watch = asyncio.create_task(watch.run(), name="reporting-broker-epoch")
        self._idle = asyncio.create_task(self._restate_when_idle(), name="reporting-kpi-restates")

    async def stop(self) -> None:
        for task in (self._watch, self._idle):
            if task is not None:
                await cancel_and_wait(task)
        for part in (self._consumer, self._probe, self._producer):
            if part is not None:
                await part.stop()

    async def _handle(self, records: Sequence[Record], done: Done) -> None:
        # A batch's decoded facts and the rows and cells read and computed for them are tens of
        # thousands of objects alive until it is stored: with the default thresholds the collector
        # scans them over and over, a tenth of the time a batch takes.
        with batch_collection():
            result, poison = await self._apply(records)
        if poison:
            assert self._producer is not None
            await asyncio.gather(
                *await dead_letter(self._producer, self._settings.facts_dead_letter_topic, poison)
            )
        done()
        self._facts.labels("applied").inc(result.applied)
        self._facts.labels("ignored").inc(result.ignored)
        self._facts.labels("parked").inc(result.parked)
        self._facts.labels("dead-lettered").inc(len(poison))
        stamps = [record.timestamp for record in records if record.timestamp is not None]
        if stamps:
            self._freshness.set(max(0.0, time.time() - max(stamps)))
        if self._restates.applied(len(records), time.monotonic()):
            await self._restate()

    async def _restate_when_idle(self) -> None:
        """Restate what waits once it is due when no batch comes to do it (the last was full)."""
        while True:
            await asyncio.sleep(self._restates.seconds)
            if self._restates.overdue(time.monotonic()):
                await self._restate()

    async def _restate(self) -> None:
        """Restate the pending KPI cells in a transaction of their own; when it fails they stay
        pending and the next batch tries again."""
        async with self._writing:
            try:
                with self._restate_seconds.time(), batch_collection():
                    restated = await restate_kpis_apart(self._engine, self._organisations)
            except Exception as exc:
                log.warning(
                    "KPI-cellen herberekenen mislukt; ze blijven wachten", extra={"error": type(exc).__name__}
                )
                return
            if not self._restates.restated(restated):
                return
            try:
                await reclaim_pending(self._engine)
            except Exception as exc:
                # Nothing is lost: the space waits for the next reclaim or autovacuum.
                log.warning(
                    "ruimte van de wachtrij voor KPI-cellen vrijmaken mislukt",
                    extra={"error": type(exc).__name__},
                )

    async def _apply(self, records: Sequence[Record]) -> tuple[Applied, list[tuple[Record, str]]]:
        """The batch's facts decoded and applied in one transaction; those outside the contract
        with their reasons."""
        facts = []
        poison: list[tuple[Record, str]] = []
        for record in records:
            try:
                facts.append(FACT_ADAPTER.validate_json(record.value or b""))
            except ValidationError as exc:
                poison.append((record, Refusal.CONTRACT.reason(summary(exc, "feit"))))
        with self._batch_seconds.time():
            async with self._writing, self._engine.begin() as conn:
                return (
                    await apply_facts(conn, facts, datetime.now(UTC), self._organisations, restate=False),
                    poison,
                )

    def assigned(self) -> bool:
        """Whether the group gave this consumer partitions: without, it applies nothing."""
        return self._consumer is not None and bool(self._consumer.assignment())

    async def check_broker(self) -> None:
        """A metadata round trip: raises when the broker does not answer."""
        assert self._consumer is not None, "start() the consumer first"
        await self._consumer.check_broker()

    async def lag(self) -> dict[str, Any]:
        """Per partition of the facts topic: committed position, the log end, and their difference."""
        if self._probe is None:
            return {}
        try:
            # /status must answer while the broker does not.
            async with asyncio.timeout(2.0):
                positions = await self._probe.positions()
        except Exception:
            return {}
        return {
            str(partition): {"committed": p.committed, "high_watermark": p.end, "lag": p.lag}
            for partition, p in positions.items()
        }
