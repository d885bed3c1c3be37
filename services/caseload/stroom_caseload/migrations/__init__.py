"""Caseload's Alembic migrations: the service's tables, revision by revision."""

from pathlib import Path

from stroom_platform.db import Migrations

MIGRATIONS = Migrations("caseload", Path(__file__).parent)
