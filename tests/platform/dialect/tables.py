"""The tables the dialect tests write to and read from."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table

from stroom_platform.dialect import CHUNK, UtcDateTime, big_key, key_text

metadata = MetaData()
rows = Table(
    "dialect_rows",
    metadata,
    Column("id", big_key(), primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False),
    Column("at", UtcDateTime(), nullable=True),
)
# Opaque identifiers, as caseload keeps its keys and codes.
keys = Table("dialect_keys", metadata, Column("key", key_text(50), primary_key=True))
versions = Table(
    "dialect_versions",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
)
# Versions over recorded time, as reporting's spell tables and KPI cells keep them; with an
# index of the open ones, as caseload's spell tables have.
recorded = Table(
    "dialect_recorded",
    metadata,
    Column("entity", String(50), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("recorded_from", UtcDateTime(), nullable=True),
    Column("recorded_to", UtcDateTime(), nullable=True),
)
Index("ix_dialect_recorded_open", recorded.c.entity, postgresql_where=recorded.c.recorded_to.is_(None))

swapped = MetaData()


def _swappable(name: str) -> Table:
    # Named as caseload's tables are: the key's and the index's names begin with the table's.
    return Table(
        name,
        swapped,
        Column("id", Integer, autoincrement=False),
        Column("name", String(50), nullable=False),
        PrimaryKeyConstraint("id", name=f"pk_{name}"),
        Index(f"ix_{name}_name", "name"),
    )


current, loaded = _swappable("dialect_live"), _swappable("dialect_live_next")

# More values than one SQLite statement may bind, so every helper has to split its work.
MANY = 2 * CHUNK + 17
