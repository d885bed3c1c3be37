"""The intake web app: its lifespan runs the outbox relay beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from stroom_intake.api import EVENT_SCHEMAS, router
from stroom_intake.runtime import IntakeRuntime
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import audit
from stroom_platform.api_docs import install_api_docs
from stroom_platform.api_standards import install_api_standards
from stroom_platform.audit import AuditLog, head_file, install_audit
from stroom_platform.auth import ADMIN, require_scope
from stroom_platform.issuer import build_authenticator
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.ops import ops_router
from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import service_app

# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"
STATUS_DESCRIPTION = (
    "The outbox's backlog, the relay and the broker, the events stored, and per source its gaps."
)


def create_app(settings: IntakeSettings) -> FastAPI:
    authenticator = build_authenticator(settings, load_organisations(settings.organisations_file))
    registry = CollectorRegistry()
    runtime = IntakeRuntime.from_settings(settings, registry)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    app = service_app("Stroom intake", API_VERSION, lifespan, authenticator, settings)
    app.state.runtime = runtime
    app.include_router(router)
    install_audit(
        app,
        AuditLog(runtime.engine, audit, "intake", head_file(settings.data_dir, audit, runtime.engine)),
        require_scope(ADMIN),
    )
    app.include_router(ops_router(registry, runtime.checks(), runtime.status, STATUS_DESCRIPTION))
    install_api_standards(app, schemas=EVENT_SCHEMAS)
    install_api_docs(app)
    return app
