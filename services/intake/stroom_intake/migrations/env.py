"""Alembic environment of the intake service."""

from alembic import context

from stroom_intake.migrations import MIGRATIONS
from stroom_intake.tables import metadata
from stroom_platform.db import run_migrations_in_env

run_migrations_in_env(context.config, metadata, MIGRATIONS.version_table)
