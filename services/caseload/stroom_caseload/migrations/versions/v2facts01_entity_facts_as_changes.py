"""caseload: each entity's stored fact becomes its full change of facts v2 (its rows over
recorded time, derived from the states of the facts v1 history stored), so the next change it
publishes carries only the rows that changed, and a redelivery sends the full change again

Revision ID: v2facts01
Revises: dlq02
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from pydantic import TypeAdapter

from stroom_caseload.domain.publication import entity_fact
from stroom_caseload.tables import live, shadow
from stroom_contract.facts import ApplicationVersion, BenefitVersion, PlacementVersion, TrajectoryVersion

revision = "v2facts01"
down_revision = "dlq02"
branch_labels = None
depends_on = None

_VERSIONS: dict[str, TypeAdapter[Any]] = {
    "benefit": TypeAdapter(list[BenefitVersion]),
    "placement": TypeAdapter(list[PlacementVersion]),
    "application": TypeAdapter(list[ApplicationVersion]),
    "trajectory": TypeAdapter(list[TrajectoryVersion]),
}


def upgrade() -> None:
    conn = op.get_bind()
    for en in (live.entities, shadow.entities):
        rows = conn.execute(sa.select(en.c.entity_key, en.c.kind, en.c.revision, en.c.fact)).all()
        changed = []
        for key, kind, fact_revision, fact in rows:
            history = orjson.loads(fact)
            if "versions" not in history:
                continue
            versions = _VERSIONS[kind].validate_python(history["versions"])
            changed.append({"key": key, "fact": entity_fact(kind, key, fact_revision, versions).decode()})
        for start in range(0, len(changed), 1000):
            conn.execute(
                en.update().where(en.c.entity_key == sa.bindparam("key")).values(fact=sa.bindparam("fact")),
                changed[start : start + 1000],
            )


def downgrade() -> None:
    """The histories are not kept: `stroom caseload rebuild` on the older release folds them again."""
