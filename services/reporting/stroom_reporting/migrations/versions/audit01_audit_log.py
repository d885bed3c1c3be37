"""reporting_audit: the append-only, hash-chained audit log

Revision ID: audit01
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

from stroom_platform.audit import create_in_migration, drop_in_migration

revision = "audit01"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_in_migration(op, "reporting_audit")


def downgrade() -> None:
    drop_in_migration(op, "reporting_audit")
