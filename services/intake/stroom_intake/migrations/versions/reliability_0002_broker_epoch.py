"""intake_broker_epoch: the broker log that the outbox's publication marks refer to

Revision ID: reliability_0002
Revises: audit01
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "reliability_0002"
down_revision = "audit01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_broker_epoch",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_broker_epoch")),
    )


def downgrade() -> None:
    op.drop_table("intake_broker_epoch")
