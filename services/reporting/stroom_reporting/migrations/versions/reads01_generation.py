"""reporting_generation: one row whose generation every change of the read models moves, so a
finished answer kept under it is served only while it stands

Revision ID: reads01
Revises: kpi02
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "reads01"
down_revision = "kpi02"
branch_labels = None
depends_on = None

TABLE = "reporting_generation"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
