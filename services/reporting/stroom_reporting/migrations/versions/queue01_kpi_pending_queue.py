"""reporting_kpi_pending: a queue without a key

Each batch upserted its benefits and plans into the queue, which tried every row against the
primary key and, for a benefit already waiting, moved its moments to the earlier ones; the restate
reads the whole queue anyway. Now each batch appends its rows (binary COPY, no index to write) and
the restate takes each benefit from the earliest moments of its rows. Rows waiting are carried
over. Nothing updates the rows any more: the room hot01 left on each page for that is not kept.

Revision ID: queue01
Revises: coll01
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from stroom_platform.dialect import key_text, storage_tuning

revision = "queue01"
down_revision = "coll01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_pending"
BUILT = "reporting_kpi_pending_built"
COLUMNS = "kind, key, standing_since, outflow_since"


def _queue(keyed: bool) -> None:
    """The queue built anew as `BUILT` (with its primary key or without), filled from `TABLE`
    (a benefit's rows as one with its earliest moments when keyed), then put in its place."""
    op.create_table(
        BUILT,
        sa.Column("kind", key_text(10), nullable=False),
        sa.Column("key", key_text(300), nullable=False),
        sa.Column("standing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outflow_since", sa.DateTime(timezone=True), nullable=True),
        *([sa.PrimaryKeyConstraint("kind", "key", name=f"pk_{TABLE}")] if keyed else []),
    )
    if keyed:
        # MIN passes NULLs by: the earliest moment of any row, None when none has one.
        rows = f"SELECT kind, key, MIN(standing_since), MIN(outflow_since) FROM {TABLE} GROUP BY kind, key"
    else:
        rows = f"SELECT {COLUMNS} FROM {TABLE}"  # noqa: S608 - our own table and column names
    op.execute(f"INSERT INTO {BUILT} ({COLUMNS}) {rows}")  # noqa: S608 - our own table and column names
    op.drop_table(TABLE)
    op.rename_table(BUILT, TABLE)


def upgrade() -> None:
    _queue(keyed=False)


def downgrade() -> None:
    _queue(keyed=True)
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {TABLE} SET (fillfactor = 70)"]):
        op.execute(statement)
