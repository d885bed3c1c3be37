"""The FastAPI app every Stroom service starts from: versioned OpenAPI, a credential on every
route, problem details, the hardening middleware, and its runtime started and stopped with it
and answering the ops endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_platform.api_standards import OPENAPI_URL
from stroom_platform.audit import AuditLog, head_file, install_audit
from stroom_platform.auth import ADMIN, Authenticator, authenticated, require_scope
from stroom_platform.db import Migrations, require_migrated
from stroom_platform.hardening import harden
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.oauth import token_router
from stroom_platform.ops import ServiceRuntime, ops_router
from stroom_platform.problems import install_problem_handlers
from stroom_platform.settings import CommonSettings


def service_app(
    title: str,
    version: str,
    runtime: ServiceRuntime,
    status_description: str,
    authenticator: Authenticator,
    settings: CommonSettings,
    engine: AsyncEngine,
    migrations: Migrations,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Before any consumer or relay runs: they write in the schema the code expects.
        await require_migrated(engine, migrations)
        await runtime.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    # The docs pages are served by install_api_docs from the service's own assets, not a CDN.
    app = FastAPI(
        title=title,
        version=version,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(authenticated)],
    )
    app.state.authenticator = authenticator
    app.state.runtime = runtime
    app.include_router(ops_router(runtime.registry, runtime.checks(), runtime.status, status_description))
    if settings.embedded_issuer:
        app.include_router(token_router(settings, authenticator))
    install_problem_handlers(app)
    harden(app, settings)
    return app


def install_service_audit(
    app: FastAPI, engine: AsyncEngine, table: Table, service: str, data_dir: Path
) -> AuditLog:
    """The service's audit log in `table`, anchored by its head file under `data_dir`, installed on
    `app` with `GET /v1/audit` for admins; returned for the routers that record in it."""
    audit_log = AuditLog(engine, table, service, head_file(data_dir, table, engine))
    install_audit(app, audit_log, require_scope(ADMIN))
    return audit_log
