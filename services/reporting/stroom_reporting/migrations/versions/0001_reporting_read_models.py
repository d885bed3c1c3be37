"""reporting read models

Revision ID: 0001
Revises: 
Create Date: 2026-01-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _versioned(name: str, *columns: sa.Column[object]) -> None:
    """A bitemporal spell table: id, entity, the columns, recorded_from and recorded_to."""
    op.create_table(name,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entity', sa.String(length=300), nullable=False),
    *columns,
    sa.Column('recorded_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_to', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_entity'), ['entity'], unique=False)


def _of_client(name: str, *columns: sa.Column[object]) -> None:
    """A spell table of one client in one municipality (indexed by municipality)."""
    _versioned(name,
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    *columns)
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_municipality'), ['municipality'], unique=False)


def upgrade() -> None:
    _of_client('reporting_applications',
    sa.Column('regulation', sa.String(length=4), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True))
    op.create_table('reporting_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=4), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporting_changes'))
    )
    with op.batch_alter_table('reporting_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporting_changes_changed_at'), ['changed_at'], unique=False)

    op.create_table('reporting_client_records',
    sa.Column('record_id', sa.String(length=300), nullable=False),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ladder_step', sa.Integer(), nullable=True),
    sa.Column('target_step', sa.Integer(), nullable=True),
    sa.Column('client_stream', sa.String(length=15), nullable=True),
    sa.Column('work_obligation_exempt', sa.Boolean(), nullable=True),
    sa.Column('coach_ref', sa.String(length=200), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('record_id', name=op.f('pk_reporting_client_records'))
    )
    with op.batch_alter_table('reporting_client_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporting_client_records_client_ref'), ['client_ref'], unique=False)

    _versioned('reporting_count_spells',
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=4), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('start_month', sa.Integer(), nullable=False),
    sa.Column('end_month', sa.Integer(), nullable=True),
    sa.Column('inflow_reason', sa.String(length=40), nullable=True),
    sa.Column('outflow_reason', sa.String(length=40), nullable=True),
    sa.Column('client_ref', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True))
    with op.batch_alter_table('reporting_count_spells', schema=None) as batch_op:
        batch_op.create_index('ix_reporting_count_spells_end', ['municipality', 'unit', 'end_month'], unique=False)
        batch_op.create_index('ix_reporting_count_spells_start', ['municipality', 'unit', 'start_month'], unique=False)

    op.create_table('reporting_entities',
    sa.Column('entity', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('entity', name=op.f('pk_reporting_entities'))
    )
    op.create_table('reporting_freshness',
    sa.Column('read_model', sa.String(length=20), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latest_recorded', sa.DateTime(timezone=True), nullable=True),
    sa.Column('facts_applied', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('read_model', name=op.f('pk_reporting_freshness'))
    )
    op.create_table('reporting_monthly',
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=4), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('inflow', sa.Integer(), nullable=False),
    sa.Column('outflow', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('municipality', 'regulation', 'unit', 'month', name=op.f('pk_reporting_monthly'))
    )
    _of_client('reporting_phase_spells',
    sa.Column('phase', sa.String(length=30), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('is_last', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True))
    _of_client('reporting_placement_spells',
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('hours_per_week', sa.Float(), nullable=True))


def downgrade() -> None:
    # Dropping a table drops its indexes too, on both engines.
    for name in ('reporting_placement_spells', 'reporting_phase_spells', 'reporting_monthly',
                 'reporting_freshness', 'reporting_entities', 'reporting_count_spells',
                 'reporting_client_records', 'reporting_changes', 'reporting_applications'):
        op.drop_table(name)
