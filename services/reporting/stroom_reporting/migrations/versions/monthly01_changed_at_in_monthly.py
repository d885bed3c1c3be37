"""reporting_changes folded into reporting_monthly: when a month's flows were last restated

Every batch upserted the same keys into both tables: the months whose flows it moved get their
deltas in reporting_monthly and the batch's time in reporting_changes. One upsert now does both,
with changed_at a column of reporting_monthly that no index holds (its updates stay HOT, as
changes01 made them). A month in reporting_monthly without a row in reporting_changes (none is
written so) counts as restated at the migration.

Revision ID: monthly01
Revises: changes01
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stroom_platform.dialect import collated, storage_tuning

revision = "monthly01"
down_revision = "changes01"
branch_labels = None
depends_on = None

KEY = ("municipality", "regulation", "unit", "month")
_MATCH = " AND ".join(f"{k} = reporting_monthly.{k}" for k in KEY)


def upgrade() -> None:
    with op.batch_alter_table("reporting_monthly") as batch:
        batch.add_column(
            sa.Column(
                "changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()
            )
        )
    op.execute(
        "UPDATE reporting_monthly SET changed_at = coalesce("  # noqa: S608 - our own table and column names
        f"(SELECT changed_at FROM reporting_changes WHERE {_MATCH}), changed_at)"
    )
    with op.batch_alter_table("reporting_monthly") as batch:
        batch.alter_column("changed_at", server_default=None)
    op.drop_table("reporting_changes")


def downgrade() -> None:
    op.create_table(
        "reporting_changes",
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("regulation", sa.String(length=4), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_reporting_changes")),
    )
    keys = [("reporting_changes", [("municipality", 6), ("regulation", 4), ("unit", 10)])]
    for statement in [
        *collated(op.get_bind(), keys, "C"),
        *storage_tuning(op.get_bind(), ["ALTER TABLE reporting_changes SET (fillfactor = 70)"]),
    ]:
        op.execute(statement)
    op.execute(
        "INSERT INTO reporting_changes SELECT municipality, regulation, unit, month, changed_at FROM reporting_monthly"
    )
    with op.batch_alter_table("reporting_monthly") as batch:
        batch.drop_column("changed_at")
