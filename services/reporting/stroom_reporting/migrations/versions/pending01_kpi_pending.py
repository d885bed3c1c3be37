"""reporting_kpi_pending: the benefits and plans whose KPI cells wait for their own step

The facts' transaction records what to restate and from when; the KPI cells are restated behind
it, each benefit once for all the batches that changed it.

Revision ID: pending01
Revises: yearflows01
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "pending01"
down_revision = "yearflows01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_pending"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("standing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outflow_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f(f"pk_{TABLE}")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
