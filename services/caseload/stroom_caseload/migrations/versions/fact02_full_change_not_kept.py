"""caseload_entities.fact may be NULL: a live worker continuing an entity's fold stores no full
change (joining and writing every row of the entity cost each event O(rows)); a redelivery and
the rebuild's republication derive it from the entity's events when it is NULL

Revision ID: fact02
Revises: v2facts01
Create Date: 2026-12-03
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

from stroom_caseload.domain.events import Event, effective
from stroom_caseload.domain.plan import entity_full
from stroom_caseload.tables import live, shadow

revision = "fact02"
down_revision = "v2facts01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for en in (live.entities, shadow.entities):
        with op.batch_alter_table(en.name) as table:
            table.alter_column("fact", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    """Each full change not kept is derived from the entity's events, as a redelivery does."""
    conn = op.get_bind()
    for tables in (live, shadow):
        en, ev = tables.entities, tables.events
        missing = conn.execute(sa.select(en.c.entity_key, en.c.revision).where(en.c.fact.is_(None))).all()
        for key, revision_ in missing:
            wires = conn.execute(
                sa.select(ev.c.wire).where(ev.c.entity_key == key, ev.c.wire.is_not(None))
            ).scalars()
            stored = effective([Event.from_wire(orjson.loads(wire)) for wire in wires])
            fact = entity_full(key, revision_, stored).decode()
            conn.execute(en.update().where(en.c.entity_key == key).values(fact=fact))
        with op.batch_alter_table(en.name) as table:
            table.alter_column("fact", existing_type=sa.Text(), nullable=False)
