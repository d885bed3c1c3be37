"""The ledger's, entities', states' and client facts' keys and codes in collation "C" on
PostgreSQL, live and shadow set alike: their indexes compare bytes instead of calling the locale's
strcoll on every insert and sort. Rewrites every index on those columns (the primary keys
included), once per table; the rows themselves stay as they are. SQLite: nothing changes.

Revision ID: coll01
Revises: idx01
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from stroom_caseload.tables import live, shadow
from stroom_platform.dialect import collated

revision = "coll01"
down_revision = "idx01"
branch_labels = None
depends_on = None

_MUNICIPALITY = ("municipality", 6)
_ENTITY = ("entity_key", 300)

# (table, [(column, length)]), the lengths tables.py gives them.
_KEYS = [
    entry
    for tables in (live, shadow)
    for entry in (
        (tables.events.name, [("source", 200), ("event_id", 200), _ENTITY]),
        (tables.entities.name, [_ENTITY]),
        *((table.name, [_ENTITY, _MUNICIPALITY]) for table in tables.states),
        (tables.client_facts.name, [("record_id", 401), ("client_ref", 200), ("type", 30)]),
    )
]


def upgrade() -> None:
    for statement in collated(op.get_bind(), _KEYS, "C"):
        op.execute(statement)


def downgrade() -> None:
    for statement in collated(op.get_bind(), _KEYS, "default"):
        op.execute(statement)
