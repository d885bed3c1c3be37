"""caseload_dead_letters: one row per record dead-lettered, by where it was read

A batch applied again after a crash between its commit and its offsets' commit recorded its dead
letters a second time; the copies are removed, the first of each kept, and a unique index on
(topic, partition, offset) lets recording one be repeated without effect.

Revision ID: dlq01
Revises: rekey01
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dlq01"
down_revision = "rekey01"
branch_labels = None
depends_on = None

_TABLE = "caseload_dead_letters"
_INDEX = "ix_caseload_dead_letters_position"


def upgrade() -> None:
    letters = sa.table(_TABLE, sa.column("id"), sa.column("topic"), sa.column("partition"), sa.column("offset"))
    first = sa.select(sa.func.min(letters.c.id)).group_by(letters.c.topic, letters.c.partition, letters.c.offset)
    op.execute(letters.delete().where(letters.c.id.not_in(first)))
    op.create_index(_INDEX, _TABLE, ["topic", "partition", "offset"], unique=True)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name=_TABLE)
