"""intake_source_sequences: the numeric `sequence` of accepted events per source

Revision ID: standards_0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "standards_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_source_sequences",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", "sequence", name=op.f("pk_intake_source_sequences")),
    )


def downgrade() -> None:
    op.drop_table("intake_source_sequences")
