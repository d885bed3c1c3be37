"""The FastAPI app every Stroom service starts from: versioned OpenAPI, a credential on every
route, problem details, the hardening middleware, and its runtime started and stopped with it
and answering the ops endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from stroom_platform.api_standards import OPENAPI_URL
from stroom_platform.auth import Authenticator, authenticated
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
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
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
