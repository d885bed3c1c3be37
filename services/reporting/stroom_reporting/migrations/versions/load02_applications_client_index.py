"""reporting_applications: a hash index on client_ref

The KPI restate looks up the applications of the clients of a batch's plans by client_ref. Without
an index each batch read the whole table, at a cost that grew with it; read by equality only, so
a hash index as on entity.

Revision ID: load02
Revises: reads01
Create Date: 2026-12-02
"""

from alembic import op

revision = "load02"
down_revision = "reads01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reporting_applications_client_ref",
        "reporting_applications",
        ["client_ref"],
        postgresql_using="hash",
    )


def downgrade() -> None:
    op.drop_index("ix_reporting_applications_client_ref", table_name="reporting_applications")
