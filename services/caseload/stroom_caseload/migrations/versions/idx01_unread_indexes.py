"""caseload_benefit_members (client_ref) and caseload_client_facts (coach_ref) lose the index on
that column: no query looks a row up by it (a coach's clients are found through their members
and the client index), and the live worker kept both up to date on every member spell and point
fact it wrote

Revision ID: idx01
Revises: dlq03
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from stroom_caseload.tables import live, shadow

revision = "idx01"
down_revision = "dlq03"
branch_labels = None
depends_on = None

# (table, index, column), as 0001 named them.
_UNREAD = [
    (table.name, f"ix_{table.name}_{name}", column)
    for tables in (live, shadow)
    for table, name, column in ((tables.members, "client", "client_ref"), (tables.client_facts, "coach", "coach_ref"))
]


def upgrade() -> None:
    for table, index, _ in _UNREAD:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index, column in _UNREAD:
        op.create_index(index, table, [column])
