"""caseload_benefit_members and caseload_trajectory_phases: an index of each entity's open spell
versions, by (entity_key, seq), where an event that changes a spell closes its open version (the
primary key led to every version of every spell of the entity)

Revision ID: open01
Revises: fact02
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from stroom_caseload.tables import live, shadow

revision = "open01"
down_revision = "fact02"
branch_labels = None
depends_on = None

_SPELLS = [table for tables in (live, shadow) for table in (tables.members, tables.phases)]


def upgrade() -> None:
    for table in _SPELLS:
        where = table.c.recorded_to.is_(None)
        op.create_index(
            f"ix_{table.name}_open",
            table.name,
            ["entity_key", "seq"],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    for table in _SPELLS:
        op.drop_index(f"ix_{table.name}_open", table_name=table.name)
