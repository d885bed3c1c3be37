"""Each service's migrations build exactly the tables its `tables.py` declares, on both engines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from stroom_caseload import commands as caseload_commands
from stroom_caseload.tables import metadata as caseload_metadata
from stroom_intake import commands as intake_commands
from stroom_intake.tables import metadata as intake_metadata
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_reporting import commands as reporting_commands
from stroom_reporting.tables import metadata as reporting_metadata

SERVICES: dict[str, tuple[Callable[[str], Awaitable[None]], MetaData, str]] = {
    "intake": (intake_commands.migrate, intake_metadata, "alembic_version_intake"),
    "caseload": (caseload_commands.migrate, caseload_metadata, "alembic_version_caseload"),
    "reporting": (reporting_commands.migrate, reporting_metadata, "alembic_version_reporting"),
}


def test_every_service_with_tables_is_compared() -> None:
    services = Path(__file__).parents[2] / "services"
    assert {path.parent.parent.name for path in services.glob("*/stroom_*/tables.py")} == set(SERVICES)


def _differences(connection: Connection, metadata: MetaData, version_table: str) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "version_table": version_table,
            # Tables of the other services may share the database; each service owns only its own.
            "include_name": lambda name, kind, _parent: kind != "table" or name in metadata.tables,
        },
    )
    return [
        *compare_metadata(context, metadata),
        *_collations(connection, metadata),
        *_index_methods(connection, metadata),
    ]


def _collations(connection: Connection, metadata: MetaData) -> list[Any]:
    """Alembic's type comparison leaves out a text column's collation."""
    inspector = inspect(connection)
    differences = []
    for table in metadata.sorted_tables:
        built = {c["name"]: getattr(c["type"], "collation", None) for c in inspector.get_columns(table.name)}
        for column in table.columns:
            declared = getattr(column.type.dialect_impl(connection.dialect), "collation", None)
            if column.name in built and built[column.name] != declared:
                differences.append(("collation", table.name, column.name, declared, built[column.name]))
    return differences


def _index_methods(connection: Connection, metadata: MetaData) -> list[Any]:
    """Alembic compares an index's columns, not its access method (btree, hash): a hash index
    declared but built as a btree (or the other way round) would pass unseen."""
    if connection.dialect.name != "postgresql":
        return []
    built = dict(
        connection.execute(
            text(
                "SELECT i.relname, am.amname FROM pg_index x"
                " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam"
                " JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = ANY(:tables)"
            ),
            {"tables": list(metadata.tables)},
        ).all()
    )
    differences = []
    for table in metadata.sorted_tables:
        for index in table.indexes:
            declared = index.dialect_options["postgresql"]["using"] or "btree"
            if index.name in built and built[index.name] != declared:
                differences.append(("index method", table.name, index.name, declared, built[index.name]))
    return differences


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_migrations_build_what_tables_declare(service: str, database_url: str) -> None:
    migrate, metadata, version_table = SERVICES[service]
    await migrate(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences, metadata, version_table)
    finally:
        await engine.dispose()
    engine_name = "PostgreSQL" if is_postgres(database_url) else "SQLite"
    assert differences == [], f"{service} on {engine_name}: migrations and tables.py differ"
