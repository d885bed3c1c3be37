"""The facts consumer: each polled batch applied in one transaction, offsets committed after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_contract.facts import Fact
from stroom_platform.broker import EpochWatch
from stroom_platform.kafka.clients import broker_of
from stroom_platform.kafka.lag import partition_lag
from stroom_reporting.projection import apply_facts
from stroom_reporting.settings import ReportingSettings

log = logging.getLogger(__name__)
FACT_ADAPTER: TypeAdapter[Fact] = TypeAdapter(Fact)


class FactsConsumer:
    """At-least-once: a crash between commit of the transaction and of the offsets redelivers
    facts, which the highest-revision rule makes harmless."""

    def __init__(self, settings: ReportingSettings, engine: AsyncEngine, registry: CollectorRegistry) -> None:
        self._settings = settings
        self._engine = engine
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._rewind = False
        self.last_batch_at: datetime | None = None
        self.last_error: str | None = None
        self._facts = Counter(
            "stroom_reporting_facts", "Facts consumed, by outcome", ["outcome"], registry=registry
        )
        self._batch_seconds = Histogram(
            "stroom_reporting_batch_apply_seconds", "Time to apply one batch of facts", registry=registry
        )
        self._freshness = Gauge(
            "stroom_reporting_freshness_seconds",
            "Seconds from the publication of the newest fact of the last batch to its figures being "
            "readable in the reports",
            registry=registry,
        )

    async def start(self) -> None:
        assert self._settings.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS is required to consume"
        self._consumer = AIOKafkaConsumer(
            self._settings.facts_topic,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._settings.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="reporting-facts-consumer")
        watch = EpochWatch(broker_of(self._settings), self._request_rewind)
        self._watch = asyncio.create_task(watch.run(), name="reporting-broker-epoch")

    async def _request_rewind(self) -> None:
        # Done by the consuming task between batches, never beside a fetch in flight.
        self._rewind = True

    async def stop(self) -> None:
        for task in (self._watch, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            if self._rewind:
                # A new broker log: the facts come again from its start; the highest revision wins.
                self._rewind = False
                await self._consumer.seek_to_beginning()
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=self._settings.consumer_poll_ms, max_records=self._settings.consumer_batch_size
                )
                if batches:
                    messages = [m for part in batches.values() for m in part]
                    await self._apply(messages)
                    await self._consumer.commit()
                    self.last_batch_at = datetime.now(UTC)
                    self.last_error = None
                    newest = max(m.timestamp for m in messages)
                    self._freshness.set(max(0.0, self.last_batch_at.timestamp() - newest / 1000))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Not committed: the batch comes again after the pause (database restart etc.).
                self.last_error = type(exc).__name__
                log.exception("applying facts failed; retrying")
                await asyncio.sleep(1.0)
                self._consumer.seek_to_committed()

    async def _apply(self, messages: list[Any]) -> None:
        facts = []
        for message in messages:
            try:
                facts.append(FACT_ADAPTER.validate_json(message.value))
            except ValidationError:
                # A record outside the contract would block the partition forever; count and skip.
                self._facts.labels("invalid").inc()
                log.error(
                    "fact outside the contract skipped",
                    extra={"partition": message.partition, "offset": message.offset},
                )
        with self._batch_seconds.time():
            async with self._engine.begin() as conn:
                result = await apply_facts(conn, facts, datetime.now(UTC))
        self._facts.labels("applied").inc(result.applied)
        self._facts.labels("ignored").inc(result.ignored)

    def assigned(self) -> bool:
        """Whether the group gave this consumer partitions: without, it applies nothing."""
        return self._consumer is not None and bool(self._consumer.assignment())

    async def check_broker(self) -> None:
        """A metadata round trip: raises when the broker does not answer."""
        assert self._consumer is not None, "start() the consumer first"
        await asyncio.wait_for(self._consumer.topics(), 3.0)

    async def lag(self) -> dict[str, Any]:
        """Per partition: committed position and the high watermark, and their difference."""
        if self._consumer is None:
            return {}
        try:
            # /status must answer while the broker does not.
            async with asyncio.timeout(2.0):
                return await self._lag(self._consumer)
        except (TimeoutError, KafkaError):
            return {}

    async def _lag(self, consumer: AIOKafkaConsumer) -> dict[str, Any]:
        partitions = {}
        for tp in sorted(consumer.assignment(), key=lambda tp: tp.partition):
            committed = await consumer.committed(tp)
            high = consumer.highwater(tp)
            partitions[str(tp.partition)] = {
                "committed": committed,
                "high_watermark": high,
                "lag": partition_lag(high, committed),
            }
        return partitions
