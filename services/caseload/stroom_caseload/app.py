"""The caseload service: FastAPI app whose lifespan runs the events consumer."""

from __future__ import annotations

from fastapi import FastAPI

from stroom_caseload.api import caseload_router
from stroom_caseload.migrations import MIGRATIONS
from stroom_caseload.runtime import STATUS_DESCRIPTION, CaseloadRuntime
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import audit
from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import publish_api, service_app

# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"
# Read under their old names until 1.2.0, answered with a `Deprecation` header.
RENAMED_QUERY_KEYS = {"as_of": "asOf"}


def create_app(settings: CaseloadSettings) -> FastAPI:
    organisations = load_organisations(settings.organisations_file)
    runtime = CaseloadRuntime.from_settings(settings, organisations)
    app = service_app(API_VERSION, runtime, STATUS_DESCRIPTION, settings, organisations, MIGRATIONS, audit)
    app.include_router(caseload_router(runtime.engine, organisations, app.state.audit))
    return publish_api(app, RENAMED_QUERY_KEYS)
