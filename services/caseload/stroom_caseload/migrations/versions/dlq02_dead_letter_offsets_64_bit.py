"""caseload_dead_letters.offset: a 64-bit integer, as Kafka's offsets are

On PostgreSQL the column was a 32-bit integer: a record dead-lettered past offset 2,147,483,647 of
its partition could not be recorded, and its batch failed again at every try. SQLite's integers
are 64-bit already; there the table is copied with the column's new type.

Revision ID: dlq02
Revises: dlq01
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dlq02"
down_revision = "dlq01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("caseload_dead_letters") as table:
        table.alter_column("offset", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("caseload_dead_letters") as table:
        table.alter_column("offset", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
