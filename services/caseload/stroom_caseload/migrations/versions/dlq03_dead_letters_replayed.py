"""caseload_dead_letters.replayed_at: when the dead letter was offered again

A dead letter replayed stood in /status's count for good, and one refused again after its replay
stood there twice (where it was read first and where the replay put it). A replay now stamps the
places it offered again; the count is of the dead letters not replayed since.

Revision ID: dlq03
Revises: open01
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dlq03"
down_revision = "open01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("caseload_dead_letters") as table:
        table.add_column(sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("caseload_dead_letters") as table:
        table.drop_column("replayed_at")
