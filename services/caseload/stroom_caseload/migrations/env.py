"""Alembic environment of the caseload service."""

from alembic import context

from stroom_caseload.migrations import MIGRATIONS
from stroom_caseload.tables import metadata
from stroom_platform.db import run_migrations_in_env

run_migrations_in_env(context.config, metadata, MIGRATIONS.version_table)
