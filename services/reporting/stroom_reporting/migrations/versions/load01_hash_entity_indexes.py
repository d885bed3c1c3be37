"""reporting spell tables: hash indexes on entity; room on reporting_entities' pages

Each row the load adds goes into every index of its table, and the entity index is only ever
read by equality (the entities of a batch): a hash index stores a 4-byte hash per row instead of
the whole key and costs about half as much to write into. A newer revision of an entity rewrites
its row in reporting_entities; with free space on the page that is an update in place (HOT).

Revision ID: load01
Revises: kpi01
Create Date: 2026-12-02
"""

from alembic import op

from stroom_platform.dialect import storage_tuning

revision = "load01"
down_revision = "kpi01"
branch_labels = None
depends_on = None

TABLES = ("reporting_count_spells", "reporting_placement_spells", "reporting_applications", "reporting_phase_spells")


def _entity_indexes(using: str, entities: str) -> None:
    statements = [
        *(f"DROP INDEX ix_{table}_entity" for table in TABLES),
        *(f"CREATE INDEX ix_{table}_entity ON {table} USING {using} (entity)" for table in TABLES),
        f"ALTER TABLE reporting_entities {entities}",
    ]
    for statement in storage_tuning(op.get_bind(), statements):
        op.execute(statement)


def upgrade() -> None:
    _entity_indexes("hash", "SET (fillfactor = 70)")


def downgrade() -> None:
    _entity_indexes("btree", "RESET (fillfactor)")
