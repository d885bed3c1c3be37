"""The intake web app: its lifespan runs the outbox relay beside the API."""

from __future__ import annotations

from fastapi import FastAPI

from stroom_intake.api import EVENT_SCHEMAS, router
from stroom_intake.migrations import MIGRATIONS
from stroom_intake.runtime import STATUS_DESCRIPTION, IntakeRuntime
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import audit
from stroom_platform.api_docs import install_api_docs
from stroom_platform.api_standards import install_api_standards
from stroom_platform.issuer import build_authenticator
from stroom_platform.organisations import load_organisations
from stroom_platform.service_app import install_service_audit, service_app

# Semver of the HTTP API (the `API-Version` header), not of the package.
API_VERSION = "1.1.0"


def create_app(settings: IntakeSettings) -> FastAPI:
    authenticator = build_authenticator(settings, load_organisations(settings.organisations_file))
    runtime = IntakeRuntime.from_settings(settings)
    app = service_app(
        "Stroom intake",
        API_VERSION,
        runtime,
        STATUS_DESCRIPTION,
        authenticator,
        settings,
        runtime.engine,
        MIGRATIONS,
    )
    app.include_router(router)
    install_service_audit(app, runtime.engine, audit, "intake", settings.data_dir)
    install_api_standards(app, schemas=EVENT_SCHEMAS)
    install_api_docs(app)
    return app
