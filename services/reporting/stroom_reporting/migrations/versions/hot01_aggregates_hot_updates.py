"""reporting totals: room on every page for the version an upsert adds

Every batch adds its deltas to rows of the monthly, yearly and KPI totals, and the KPI queue's
rows are updated until they are restated. None of the columns updated is in an index, so with
free space on the row's page PostgreSQL updates it in place (HOT): no index entry is added and
the old version is pruned on the page without waiting for a VACUUM. Filled to the brim on insert,
most of these updates moved the row to another page and added an entry to the primary key.
A fillfactor applies to pages written from then on: an installation that already holds totals
gets the room as its pages are rewritten (`VACUUM FULL` or `pg_repack` gives it at once).

Revision ID: hot01
Revises: pending01
Create Date: 2026-12-06
"""

from alembic import op

from stroom_platform.dialect import storage_tuning

revision = "hot01"
down_revision = "pending01"
branch_labels = None
depends_on = None

TABLES = (
    "reporting_monthly",
    "reporting_year_flows",
    "reporting_kpi_totals",
    "reporting_kpi_year_totals",
    "reporting_kpi_year_changes",
    "reporting_kpi_pending",
)


def upgrade() -> None:
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {t} SET (fillfactor = 70)" for t in TABLES]):
        op.execute(statement)


def downgrade() -> None:
    for statement in storage_tuning(op.get_bind(), [f"ALTER TABLE {t} RESET (fillfactor)" for t in TABLES]):
        op.execute(statement)
