"""The caseload service: FastAPI app whose lifespan hosts the events consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI

from stroom_caseload.api import caseload_router
from stroom_caseload.consumer import Processor
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.status import status
from stroom_caseload.tables import audit
from stroom_platform.api_docs import install_api_docs
from stroom_platform.api_standards import install_api_standards
from stroom_platform.audit import AuditLog, head_file, install_audit
from stroom_platform.auth import ADMIN, require_scope
from stroom_platform.broker import EpochWatch
from stroom_platform.db import make_engine
from stroom_platform.issuer import build_authenticator
from stroom_platform.kafka.clients import broker_of
from stroom_platform.kafka.consuming import BatchConsumer, ConsumerOptions
from stroom_platform.kafka.lag import LagProbe
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.ops import ReadinessCheck, database_check, ops_router
from stroom_platform.organisations import load_organisations
from stroom_platform.partitioner import entity_partition_for
from stroom_platform.problems import Problem
from stroom_platform.service_app import service_app

log = logging.getLogger(__name__)
# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"
# Read under their old names until 1.2.0, answered with a `Deprecation` header.
RENAMED_QUERY_KEYS = {"as_of": "asOf"}
STATUS_DESCRIPTION = "The consumer group, its partitions and lag, the newest event applied, the dead letters."


def create_app(settings: CaseloadSettings) -> FastAPI:
    organisations = load_organisations(settings.organisations_file)
    authenticator = build_authenticator(settings, organisations)
    metrics = CaseloadMetrics()
    engine = make_engine(settings.caseload_database_url)
    kafka = broker_of(settings)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Kafka clients bind to the running loop, so they are made here.
        producer = kafka.producer(
            linger_ms=5,
            max_batch_size=settings.facts_batch_bytes,
            partitioner=entity_partition_for,
        )
        await producer.start()
        probe = LagProbe(kafka, settings.consumer_group, settings.events_topic)
        await probe.start()
        processor = Processor(
            engine,
            producer,
            organisations.municipality_codes,
            settings.facts_topic,
            settings.dead_letter_topic,
            metrics,
        )
        processor.start()
        consumer = BatchConsumer(
            kafka,
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
        watch = asyncio.create_task(EpochWatch(kafka, consumer.rewind).run(), name="caseload-broker-epoch")
        state.update(consumer=consumer, probe=probe, processor=processor)
        log.info("caseload consumer started", extra={"group": settings.consumer_group})
        freeze_startup_heap()
        try:
            yield
        finally:
            state.clear()
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            await consumer.stop()
            await processor.stop()
            await probe.stop()
            await producer.stop()
            await engine.dispose()
            log.info("caseload consumer stopped")

    app = service_app("Stroom caseload", API_VERSION, lifespan, authenticator, settings)

    async def consumer_running() -> None:
        if state.get("consumer") is None:
            raise RuntimeError("consumer not started")

    async def broker() -> None:
        if "probe" not in state:
            raise RuntimeError("consumer not started")
        await state["probe"].check_broker()

    async def assignment() -> None:
        # A worker the group gave no partitions applies nothing (more workers than partitions).
        if "consumer" not in state or not state["consumer"].assignment():
            raise RuntimeError("no partitions assigned")

    async def get_status() -> dict[str, Any]:
        if "consumer" not in state:
            raise Problem(503, "not-started", "The consumer is not running")
        return await status(
            settings.consumer_group,
            state["consumer"].assignment(),
            state["probe"],
            state["processor"],
            engine,
            metrics,
        )

    checks: dict[str, ReadinessCheck] = {
        "database": partial(database_check, engine),
        "broker": broker,
        "consumer": consumer_running,
        "assignment": assignment,
    }
    app.include_router(ops_router(metrics.registry, checks, get_status, STATUS_DESCRIPTION))
    audit_log = AuditLog(engine, audit, "caseload", head_file(settings.data_dir, audit, engine))
    app.include_router(caseload_router(engine, organisations, audit_log))
    install_audit(app, audit_log, require_scope(ADMIN))

    install_api_standards(app, RENAMED_QUERY_KEYS)
    install_api_docs(app)
    return app
