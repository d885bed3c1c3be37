"""The FastAPI app every Stroom service starts from: versioned OpenAPI, a credential on every
route, problem details and the hardening middleware."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import Depends, FastAPI

from stroom_platform.api_standards import OPENAPI_URL
from stroom_platform.auth import Authenticator, authenticated
from stroom_platform.hardening import harden
from stroom_platform.oauth import token_router
from stroom_platform.problems import install_problem_handlers
from stroom_platform.settings import CommonSettings


def service_app(
    title: str,
    version: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    authenticator: Authenticator,
    settings: CommonSettings,
) -> FastAPI:
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
    if settings.embedded_issuer:
        app.include_router(token_router(settings, authenticator))
    install_problem_handlers(app)
    harden(app, settings)
    return app
