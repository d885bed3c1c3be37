"""intake_audit: the append-only, hash-chained audit log

Revision ID: audit01
Revises: standards_0002
Create Date: 2026-12-02
"""

from alembic import op

from stroom_platform.audit import create_in_migration, drop_in_migration

revision = "audit01"
down_revision = "standards_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_in_migration(op, "intake_audit")


def downgrade() -> None:
    drop_in_migration(op, "intake_audit")
