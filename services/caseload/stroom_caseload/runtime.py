"""Caseload's running parts, built from its settings: the database, the facts producer, the
events consumer and its lag probe, with start, stop, readiness checks and /status."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.consumer import Processor
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.settings import CaseloadSettings
from stroom_platform.broker import EpochWatch
from stroom_platform.dialect import ONE_CONNECTION
from stroom_platform.kafka.clients import Broker, broker_of
from stroom_platform.kafka.consuming import BatchConsumer, ConsumerOptions
from stroom_platform.kafka.lag import LagProbe
from stroom_platform.ops import ReadinessCheck, database_check, database_status, moment
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.partitioner import entity_partition_for
from stroom_platform.problems import Problem
from stroom_platform.tasks import cancel_and_wait

log = logging.getLogger(__name__)
STATUS_DESCRIPTION = (
    "De consumergroep, haar partities en achterstand, het nieuwste toegepaste event, de dead letters."
)


@dataclass(frozen=True)
class _Kafka:
    """The parts that exist only between start and stop: Kafka clients bind to the running loop."""

    producer: AIOKafkaProducer
    applying: AsyncEngine
    probe: LagProbe
    processor: Processor
    consumer: BatchConsumer
    epoch_watch: asyncio.Task[None]


def applying_engine(settings: CaseloadSettings) -> AsyncEngine:
    """The consumer's own engine. Its batches' transactions run one at a time on one connection
    (`LockingTransactions`), so its pool holds one: N workers hold N connections, not N pools.
    No ping at every checkout: that is a round trip in every batch, and a batch on a dead
    connection fails as a whole and is tried again on a new one (Processor._transaction), so the
    ping buys it nothing. The API keeps the pinging pool of the configured size."""
    return settings.database_engine("caseload", pool=ONE_CONNECTION, pool_pre_ping=False)


@dataclass
class CaseloadRuntime:
    settings: CaseloadSettings
    engine: AsyncEngine
    organisations: OrganisationsConfig
    metrics: CaseloadMetrics
    broker: Broker
    _kafka: _Kafka | None = field(default=None, init=False)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    @classmethod
    def from_settings(cls, settings: CaseloadSettings, organisations: OrganisationsConfig) -> CaseloadRuntime:
        engine = settings.database_engine("caseload")
        return cls(settings, engine, organisations, CaseloadMetrics(), broker_of(settings))

    async def start(self) -> None:
        settings = self.settings
        # No linger: facts leave as whole record batches (`send_all`), which a linger would only
        # hold back; dead letters sent one after another still share a batch.
        producer = self.broker.producer(
            linger_ms=0,
            max_batch_size=settings.facts_batch_bytes,
            partitioner=entity_partition_for,
        )
        await producer.start()
        applying = applying_engine(settings)
        probe = LagProbe(self.broker, settings.consumer_group, settings.events_topic)
        await probe.start()
        processor = Processor(
            applying,
            producer,
            self.organisations.municipality_codes,
            settings.facts_topic,
            settings.dead_letter_topic,
            self.metrics,
            transaction_events=settings.transaction_events,
            folded_entities=settings.folded_entities,
        )
        await processor.warm()
        processor.start()
        consumer = BatchConsumer(
            self.broker,
            settings.events_topic,
            settings.consumer_group,
            processor.submit,
            ConsumerOptions(
                batch_size=settings.batch_size,
                batch_within_seconds=settings.batch_within_seconds,
                fetch_max_wait_ms=settings.fetch_max_wait_ms,
            ),
        )
        await consumer.start()
        # A new broker log: its events come again from offset 0 (intake republishes them); the
        # ledger's (source, id) makes each one that was applied a duplicate.
        watch = asyncio.create_task(
            EpochWatch(self.broker, consumer.rewind).run(), name="caseload-broker-epoch"
        )
        self._kafka = _Kafka(producer, applying, probe, processor, consumer, watch)
        log.info("caseload-consumer gestart", extra={"group": settings.consumer_group})

    async def stop(self) -> None:
        kafka, self._kafka = self._kafka, None
        if kafka is not None:
            await cancel_and_wait(kafka.epoch_watch)
            await kafka.consumer.stop()
            await kafka.processor.stop()
            await kafka.probe.stop()
            await kafka.producer.stop()
            await kafka.applying.dispose()
        await self.engine.dispose()
        log.info("caseload-consumer gestopt")

    def checks(self) -> dict[str, ReadinessCheck]:
        """Readiness: the database answers, the consumer runs, reaches the broker and has partitions."""

        async def consumer_running() -> None:
            self._started()

        async def broker() -> None:
            await self._started().probe.check_broker()

        async def assignment() -> None:
            # A worker the group gave no partitions applies nothing (more workers than partitions).
            if not self._started().consumer.assignment():
                raise RuntimeError("geen partities toegewezen")

        return {
            "database": partial(database_check, self.engine),
            "broker": broker,
            "consumer": consumer_running,
            "assignment": assignment,
        }

    def _started(self) -> _Kafka:
        if self._kafka is None:
            raise RuntimeError("consumer niet gestart")
        return self._kafka

    async def status(self) -> dict[str, Any]:
        """Assignment, lag per partition, the newest event applied, the database and dead letters."""
        kafka = self._kafka
        if kafka is None:
            raise Problem(503, "not-started", "De consumer draait niet")
        report: dict[str, Any] = {
            "service": "caseload",
            "consumer_group": self.settings.consumer_group,
            "topic": kafka.probe.topic,
            "assigned_partitions": kafka.consumer.assignment(),
            "last_event_time": moment(kafka.processor.last_event_time),
        }
        try:
            lag = await kafka.probe.lag()
            report["lag"] = {str(p): n for p, n in lag.items()}
            report["total_lag"] = sum(lag.values())
            for partition, n in lag.items():
                self.metrics.lag.labels(str(partition)).set(n)
        except Exception as exc:  # the broker being away is a status, not an error
            report["lag"] = None
            report["lag_error"] = type(exc).__name__
        dead_letters, report["database"] = await database_status(
            self.engine, lambda conn: CaseloadRepository(conn).dead_letter_count()
        )
        if dead_letters is not None:
            report["dead_letters"] = dead_letters
        return report
