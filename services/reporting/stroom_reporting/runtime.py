"""Reporting's running parts, built from its settings: the database, the organisations and the
facts consumer, with start, stop, readiness checks and /status."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.dialect import make_reading_engine
from stroom_platform.memory import tune_for_batches
from stroom_platform.ops import ReadinessCheck, database_check, database_status, moment
from stroom_platform.organisations import OrganisationsConfig
from stroom_reporting import kpi_store, queries
from stroom_reporting.consumer import FactsConsumer
from stroom_reporting.service.answers import Answers
from stroom_reporting.service.generations import GenerationWatch
from stroom_reporting.settings import ReportingSettings

STATUS_DESCRIPTION = (
    "Consumergroep en achterstand, per leesmodel wanneer het laatst een feit toepaste (versheid), "
    "hoeveel uitkeringen en plannen op het herberekenen van hun KPI-cellen wachten, hoeveel feiten "
    "sinds de laatste herberekening kwamen, en na hoeveel feiten en seconden een achterstand "
    "uiterlijk opnieuw wordt berekend."
)


@dataclass(frozen=True)
class ReportingRuntime:
    settings: ReportingSettings
    engine: AsyncEngine
    organisations: OrganisationsConfig
    registry: CollectorRegistry
    # None when this process serves the API only (STROOM_CONSUME=false).
    consumer: FactsConsumer | None
    answers: Answers
    # The API's connections: they only read (make_reading_engine).
    reads: AsyncEngine

    @classmethod
    def from_settings(
        cls, settings: ReportingSettings, organisations: OrganisationsConfig
    ) -> ReportingRuntime:
        engine = settings.database_engine("reporting")
        registry = CollectorRegistry()
        consumer = FactsConsumer(settings, engine, registry) if settings.consume else None
        reads = make_reading_engine(engine, settings.database_pool)
        watch = GenerationWatch(reads) if settings.answers_kept else None
        return cls(
            settings, engine, organisations, registry, consumer, Answers(settings.answers_kept, watch), reads
        )

    @property
    def disclosure_threshold(self) -> int:
        """Publication: figures below this are suppressed."""
        return self.settings.disclosure_threshold

    async def start(self) -> None:
        # A computed report holds thousands of rows and their dicts at once: under the
        # interpreter's thresholds (700 new objects) the collector would run several times during
        # each, and every few dozen reports make a full pass that stalls the one it falls in.
        tune_for_batches()
        if self.answers.watch is not None:
            self.answers.watch.start()
        if self.consumer is not None:
            await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.answers.watch is not None:
            await self.answers.watch.stop()
        if self.reads is not self.engine:
            await self.reads.dispose()
        await self.engine.dispose()

    def checks(self) -> dict[str, ReadinessCheck]:
        """Readiness: the database answers; a consumer reaches the broker and has partitions."""
        checks: dict[str, ReadinessCheck] = {"database": partial(database_check, self.engine)}
        consumer = self.consumer
        if consumer is not None:

            async def assignment() -> None:
                if not consumer.assigned():
                    raise RuntimeError("geen partities van het feitentopic toegewezen")

            checks |= {"broker": consumer.check_broker, "assignment": assignment}
        return checks

    async def status(self) -> dict[str, Any]:
        found, database = await database_status(self.engine, _status_reads)
        fresh, pending = found or (None, None)
        consumer = self.consumer
        return {
            "service": "reporting",
            "consumer": {
                "group": self.settings.consumer_group,
                "topic": self.settings.facts_topic,
                "running": consumer is not None,
                "last_batch_at": moment(consumer.last_batch_at if consumer else None),
                "last_error": consumer.last_error if consumer else None,
                "partitions": await consumer.lag() if consumer else {},
            },
            "database": database,
            "read_models": {
                row.read_model: {
                    "last_applied_at": row.applied_at.isoformat(),
                    # The newest event time of all facts applied, and that of the batch applied
                    # last: after a late import of old events the second lies far back.
                    "newest_recorded": moment(row.newest_recorded),
                    "last_applied_recorded": moment(row.latest_recorded),
                    "facts_applied": row.facts_applied,
                }
                for row in fresh or ()
            },
            # The KPI cells follow the read models in a step of their own: the benefits and plans
            # whose cells wait for it, the facts applied since the last, and the two bounds that
            # start one while a backlog fills every batch (how many facts, how long).
            "kpi_cells": {
                "pending": pending,
                "facts_waiting": consumer.facts_waiting if consumer else 0,
                "restated_after_facts": self.settings.kpi_restate_facts,
                "restated_within_seconds": self.settings.kpi_restate_seconds,
            },
        }


async def _status_reads(conn: AsyncConnection) -> tuple[list[Any], int]:
    return await queries.freshness(conn), await kpi_store.waiting(conn)
