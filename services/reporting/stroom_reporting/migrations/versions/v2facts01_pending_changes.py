"""reporting_pending_changes: an entity's facts changes that came before the change they apply on
top of, kept until it arrives (facts v2)

Revision ID: v2facts01
Revises: load02
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "v2facts01"
down_revision = "load02"
branch_labels = None
depends_on = None

TABLE = "reporting_pending_changes"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("entity", sa.String(length=300), nullable=False),
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "revision", name=op.f(f"pk_{TABLE}")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
