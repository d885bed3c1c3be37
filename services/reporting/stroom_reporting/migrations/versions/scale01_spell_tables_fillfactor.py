"""reporting spell tables: room on every page for the version a new fact closes

A newer fact of an entity sets recorded_to on the version it supersedes. recorded_to is in no
index, so with free space on the row's page PostgreSQL updates it in place (a HOT update)
without touching the table's indexes.

Revision ID: scale01
Revises: newuser01
Create Date: 2026-12-02
"""

from alembic import op

from stroom_platform.dialect import storage_tuning

revision = "scale01"
down_revision = "newuser01"
branch_labels = None
depends_on = None

TABLES = ("reporting_count_spells", "reporting_placement_spells", "reporting_applications", "reporting_phase_spells")


def upgrade() -> None:
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {t} SET (fillfactor = 70)" for t in TABLES]):
        op.execute(statement)


def downgrade() -> None:
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {t} RESET (fillfactor)" for t in TABLES]):
        op.execute(statement)
