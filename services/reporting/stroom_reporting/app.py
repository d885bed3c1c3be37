"""The reporting web app: API, dashboard and ops; its lifespan runs the facts consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from stroom_platform.api_docs import install_api_docs
from stroom_platform.api_standards import install_api_standards
from stroom_platform.audit import AuditLog, install_audit
from stroom_platform.auth import ADMIN, Operator, require_scope
from stroom_platform.db import make_engine
from stroom_platform.issuer import build_authenticator
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.ops import ServiceStatus, ops_router
from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import service_app
from stroom_reporting import repository
from stroom_reporting.api import router
from stroom_reporting.consumer import FactsConsumer
from stroom_reporting.context import ReportingContext
from stroom_reporting.settings import ReportingSettings
from stroom_reporting.tables import audit

STATIC = Path(__file__).parent / "static"
# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"
# Read under their old names until 1.2.0, answered with a `Deprecation` header.
RENAMED_QUERY_KEYS = {"as_of": "asOf", "stock_date": "stockDate"}


def create_app(settings: ReportingSettings) -> FastAPI:
    organisations = load_organisations(settings.organisations_file)
    authenticator = build_authenticator(settings, organisations)
    engine = make_engine(settings.reporting_database_url)
    registry = CollectorRegistry()
    consumer = FactsConsumer(settings, engine, registry) if settings.consume else None
    context = ReportingContext(engine, organisations, settings.disclosure_threshold)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if consumer is not None:
            await consumer.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            if consumer is not None:
                await consumer.stop()
            await engine.dispose()

    async def check_database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    app = service_app("Stroom reporting", API_VERSION, lifespan, authenticator, settings)
    app.state.context = context
    app.include_router(router)
    install_audit(app, AuditLog(engine, audit, "reporting"), require_scope(ADMIN))
    checks = {"database": check_database}
    if consumer is not None:

        async def broker() -> None:
            await consumer.check_broker()

        async def assignment() -> None:
            if not consumer.assigned():
                raise RuntimeError("no partitions of the facts topic assigned")

        checks |= {"broker": broker, "assignment": assignment}
    app.include_router(ops_router(registry, checks))

    @app.get("/status", tags=["ops"], response_model=ServiceStatus)
    async def status(_operator: Operator) -> dict[str, Any]:
        """Consumer group and lag, and per read model when a fact was last applied (freshness)."""
        try:
            # Answers also while the database is away, as status pages must.
            async with asyncio.timeout(3.0), engine.connect() as conn:
                fresh = await repository.freshness(conn)
        except Exception:
            fresh = None
        return {
            "service": "reporting",
            "consumer": {
                "group": settings.consumer_group,
                "topic": settings.facts_topic,
                "running": consumer is not None,
                "last_batch_at": consumer.last_batch_at.isoformat()
                if consumer and consumer.last_batch_at
                else None,
                "last_error": consumer.last_error if consumer else None,
                "partitions": await consumer.lag() if consumer else {},
            },
            "database": {"reachable": fresh is not None},
            "read_models": {
                row.read_model: {
                    "last_applied_at": row.applied_at.isoformat(),
                    # The newest event time of all facts applied, and that of the batch applied
                    # last: after a late import of old events the second lies far back.
                    "newest_recorded": _iso(row.newest_recorded),
                    "last_applied_recorded": _iso(row.latest_recorded),
                    "facts_applied": row.facts_applied,
                }
                for row in fresh or ()
            },
        }

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_api_standards(app, RENAMED_QUERY_KEYS)
    install_api_docs(app)
    return app


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
