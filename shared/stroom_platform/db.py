"""Async SQLAlchemy engines for SQLite (embedded) and PostgreSQL, and Alembic migrations per service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from stroom_platform.dialect import alters_by_copying
from stroom_platform.dialect import make_engine as make_engine  # made where the engines differ

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where migrations are read or run: with Mako and Pygments behind it, it is
# about a sixth of what a process that only opens engines (a rebuild's worker processes) imports.

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Migrations:
    """A service's Alembic migrations: where they are, and the table in which a database records
    how far it has come."""

    service: str
    location: Path

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"


class NotMigrated(RuntimeError):
    """A database not at the revision the code was written for."""


async def require_migrated(engine: AsyncEngine, migrations: Migrations) -> None:
    """Refuses to go on unless the database is at the newest revision of `migrations`: a worker
    on an older schema would write what a later migration has yet to make room for (or a newer
    schema the code does not know)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    wanted = set(ScriptDirectory(str(migrations.location)).get_heads())

    def current(connection: Connection) -> set[str]:
        context = MigrationContext.configure(connection, opts={"version_table": migrations.version_table})
        return set(context.get_current_heads())

    async with engine.connect() as connection:
        found = await connection.run_sync(current)
    if found != wanted:
        raise NotMigrated(
            f"de database van {migrations.service} staat op versie {', '.join(sorted(found)) or '(geen)'}"
            f" en deze versie van Stroom verwacht {', '.join(sorted(wanted))}: voer eerst"
            f" `stroom migrate {migrations.service}` uit"
        )


def alembic_config(script_location: Path, url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(script_location: Path, url: str) -> None:
    """Bring a service's tables to the newest revision (idempotent)."""
    from alembic import command

    config = alembic_config(script_location, url)
    await asyncio.to_thread(command.upgrade, config, "head")


def run_migrations_in_env(config: Config, target_metadata: MetaData, version_table: str) -> None:
    """The body of every service's migrations/env.py: online, async, own version table."""
    from alembic import context

    url = config.get_main_option("sqlalchemy.url")
    assert url is not None

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=alters_by_copying(connection),
            compare_type=True,
            # A server-side cursor a data migration streams with (rekey01's) lives until its
            # transaction ends, and keeps a later migration from altering the table it read.
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = make_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())
