"""The reporting web app: API, dashboard and ops; its lifespan runs the facts consumer."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import publish_api, service_app
from stroom_reporting.api import KeptAnswers, router
from stroom_reporting.migrations import MIGRATIONS
from stroom_reporting.runtime import STATUS_DESCRIPTION, ReportingRuntime
from stroom_reporting.settings import ReportingSettings
from stroom_reporting.tables import audit

STATIC = Path(__file__).parent / "static"
# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"
# Read under their old names until 1.2.0, answered with a `Deprecation` header.
RENAMED_QUERY_KEYS = {"as_of": "asOf", "stock_date": "stockDate"}


def create_app(settings: ReportingSettings) -> FastAPI:
    organisations = load_organisations(settings.organisations_file)
    runtime = ReportingRuntime.from_settings(settings, organisations)
    kept = Middleware(KeptAnswers, runtime=runtime)
    app = service_app(
        API_VERSION, runtime, STATUS_DESCRIPTION, settings, organisations, MIGRATIONS, audit, [kept]
    )
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return publish_api(app, RENAMED_QUERY_KEYS)
