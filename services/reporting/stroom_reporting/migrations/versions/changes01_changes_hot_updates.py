"""reporting_changes: no index on changed_at, and room on every page for its updates

Every batch sets changed_at of the months whose flows it moved, most of them months already in the
table. With changed_at indexed none of those updates could be made in place (HOT): each wrote a new
entry into the primary key and into the index on changed_at, and left one dead in both. The one
reader (queries.changed_months) asks for an organisation's municipalities, which the primary key
leads with, and a municipality has a row per regulation, unit and month: few enough to filter on
changed_at as they are read. As for the totals (hot01), a fillfactor leaves the room on the page
for the new version; it applies to pages written from then on.

Revision ID: changes01
Revises: queue01
Create Date: 2026-12-07
"""

from alembic import op

from stroom_platform.dialect import storage_tuning

revision = "changes01"
down_revision = "queue01"
branch_labels = None
depends_on = None

TABLE = "reporting_changes"
INDEX = "ix_reporting_changes_changed_at"


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {TABLE} SET (fillfactor = 70)"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {TABLE} RESET (fillfactor)"]):
        op.execute(statement)
    op.create_index(INDEX, TABLE, ["changed_at"])
