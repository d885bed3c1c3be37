"""reporting_freshness.newest_recorded: the newest recorded time ever applied, beside the last

Revision ID: newuser01
Revises: audit01
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "newuser01"
down_revision = "audit01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporting_freshness") as batch:
        batch.add_column(sa.Column("newest_recorded", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE reporting_freshness SET newest_recorded = latest_recorded")


def downgrade() -> None:
    with op.batch_alter_table("reporting_freshness") as batch:
        batch.drop_column("newest_recorded")
