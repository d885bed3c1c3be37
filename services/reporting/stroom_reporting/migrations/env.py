"""Alembic environment of the reporting service."""

from alembic import context

from stroom_platform.db import run_migrations_in_env
from stroom_reporting.migrations import MIGRATIONS
from stroom_reporting.tables import metadata

run_migrations_in_env(context.config, metadata, MIGRATIONS.version_table)
