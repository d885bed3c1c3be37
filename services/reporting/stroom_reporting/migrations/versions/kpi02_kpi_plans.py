"""reporting_kpi_plans: the applications a plan may be linked to, so that an application's fact
restates the K3 cells of the plans naming it (fill with `stroom reporting kpi-cells`)

Revision ID: kpi02
Revises: load01
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "kpi02"
down_revision = "load01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_plans"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("record_id", sa.String(length=300), nullable=False),
        sa.Column("client_ref", sa.String(length=200), nullable=False),
        sa.Column("application", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f(f"pk_{TABLE}")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{TABLE}_client_ref"), ["client_ref"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{TABLE}_application"), ["application"], unique=False)


def downgrade() -> None:
    op.drop_table(TABLE)
