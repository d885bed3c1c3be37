"""The intake web app: its lifespan runs the outbox relay beside the API."""

from __future__ import annotations

from fastapi import FastAPI

from stroom_intake.api import EVENT_SCHEMAS, router
from stroom_intake.migrations import MIGRATIONS
from stroom_intake.runtime import STATUS_DESCRIPTION, IntakeRuntime
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import audit
from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import publish_api, service_app

# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"


def create_app(settings: IntakeSettings) -> FastAPI:
    runtime = IntakeRuntime.from_settings(settings)
    organisations = load_organisations(settings.organisations_file)
    app = service_app(API_VERSION, runtime, STATUS_DESCRIPTION, settings, organisations, MIGRATIONS, audit)
    app.include_router(router)
    return publish_api(app, schemas=EVENT_SCHEMAS)
