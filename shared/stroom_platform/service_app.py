"""The FastAPI app every Stroom service starts from: versioned OpenAPI, a credential on every
route, problem details, the hardening middleware, and its runtime started and stopped with it
and answering the ops endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import Table
from starlette.middleware import Middleware

from stroom_platform.api_docs import install_api_docs
from stroom_platform.api_standards import OPENAPI_URL, install_api_standards
from stroom_platform.audit import AuditLog, head_file, install_audit
from stroom_platform.auth import ADMIN, authenticated, require_scope
from stroom_platform.db import Migrations, require_migrated
from stroom_platform.hardening import harden
from stroom_platform.issuer import build_authenticator
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.oauth import token_router
from stroom_platform.ops import ServiceRuntime, ops_router
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.problems import install_problem_handlers
from stroom_platform.settings import CommonSettings


def service_app(
    version: str,
    runtime: ServiceRuntime,
    status_description: str,
    settings: CommonSettings,
    organisations: OrganisationsConfig,
    migrations: Migrations,
    audit: Table,
    inner: Sequence[Middleware] = (),
) -> FastAPI:
    """The app of the service whose `migrations` these are, titled after it, with its audit log in
    `audit` (on `app.state.audit`); raises ValueError naming a setting that keeps it from starting.
    `inner`: the service's own ASGI middleware, outermost first, inside the rate limit and the
    security headers (it sees only the requests those let through, and its answers get the
    headers). Include the service's routes, then call `publish_api`."""
    authenticator = build_authenticator(settings, organisations)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Before any consumer or relay runs: they write in the schema the code expects.
        await require_migrated(runtime.engine, migrations)
        await runtime.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    # The docs pages are served by install_api_docs from the service's own assets, not a CDN.
    app = FastAPI(
        title=f"Stroom {migrations.service}",
        version=version,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(authenticated)],
        # Stroom exports Prometheus metrics and no OpenTelemetry; left on, FastAPI looks for
        # OpenTelemetry providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.authenticator = authenticator
    app.state.runtime = runtime
    app.include_router(ops_router(runtime.registry, runtime.checks(), runtime.status, status_description))
    if settings.embedded_issuer:
        app.include_router(token_router(settings, authenticator))
    install_problem_handlers(app)
    for middleware in reversed(inner):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    harden(app, settings)
    # Anchored by its head file under the data directory; GET /v1/audit for admins.
    engine = runtime.engine
    install_audit(
        app,
        AuditLog(engine, audit, migrations.service, head_file(settings.data_dir, audit, engine)),
        require_scope(ADMIN),
    )
    return app


def publish_api(
    app: FastAPI,
    renamed_query_keys: Mapping[str, str] | None = None,
    schemas: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The NL API Design Rules over every route of `app` (so after the last is included), and its
    docs pages."""
    install_api_standards(app, renamed_query_keys, schemas)
    install_api_docs(app)
    return app
