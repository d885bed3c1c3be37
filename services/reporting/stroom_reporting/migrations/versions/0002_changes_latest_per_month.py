"""reporting changes: the latest restatement per month instead of a row per batch

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

KEY = ('municipality', 'regulation', 'unit', 'month')


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column('municipality', sa.String(length=6), nullable=False),
        sa.Column('regulation', sa.String(length=4), nullable=False),
        sa.Column('unit', sa.String(length=10), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('reporting_changes_latest', *_columns(),
                    sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_reporting_changes_latest')))
    op.execute(
        "INSERT INTO reporting_changes_latest SELECT municipality, regulation, unit, month, max(changed_at)"
        " FROM reporting_changes GROUP BY municipality, regulation, unit, month"
    )
    with op.batch_alter_table('reporting_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reporting_changes_changed_at'))
    op.drop_table('reporting_changes')
    op.create_table('reporting_changes', *_columns(),
                    sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_reporting_changes')))
    with op.batch_alter_table('reporting_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporting_changes_changed_at'), ['changed_at'], unique=False)
    op.execute("INSERT INTO reporting_changes SELECT * FROM reporting_changes_latest")
    op.drop_table('reporting_changes_latest')


def downgrade() -> None:
    with op.batch_alter_table('reporting_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reporting_changes_changed_at'))
    op.drop_table('reporting_changes')
    op.create_table('reporting_changes',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    *_columns(),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporting_changes')))
    with op.batch_alter_table('reporting_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporting_changes_changed_at'), ['changed_at'], unique=False)
