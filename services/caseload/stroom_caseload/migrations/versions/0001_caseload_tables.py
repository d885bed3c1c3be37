"""caseload: event ledger, entity revisions, bitemporal state

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:02:34.852660
"""

from typing import Any

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _version_columns(seq: bool = False) -> list[sa.Column[Any]]:
    """The key and recorded-time columns every bitemporal state table starts with."""
    columns: list[sa.Column[Any]] = [
        sa.Column('entity_key', sa.String(length=300), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
    ]
    if seq:
        columns.append(sa.Column('seq', sa.Integer(), nullable=False))
    return columns + [
        sa.Column('recorded_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_to', sa.DateTime(timezone=True), nullable=True),
    ]


def _create_state_tables(suffix: str) -> None:
    """The live tables (no suffix) and the `_next` shadow set that a rebuild fills and swaps in."""
    op.create_table(f'caseload_applications{suffix}',
    *_version_columns(),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=10), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', name=op.f(f'pk_caseload_applications{suffix}'))
    )
    with op.batch_alter_table(f'caseload_applications{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_applications{suffix}_current', ['municipality', 'recorded_to'], unique=False)

    op.create_table(f'caseload_benefit_members{suffix}',
    *_version_columns(seq=True),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=10), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', 'seq', name=op.f(f'pk_caseload_benefit_members{suffix}'))
    )
    with op.batch_alter_table(f'caseload_benefit_members{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_benefit_members{suffix}_client', ['client_ref'], unique=False)
        batch_op.create_index(f'ix_caseload_benefit_members{suffix}_current', ['municipality', 'recorded_to'], unique=False)

    op.create_table(f'caseload_benefits{suffix}',
    *_version_columns(),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('regulation', sa.String(length=10), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('inflow_reason', sa.String(length=60), nullable=False),
    sa.Column('outflow_reason', sa.String(length=60), nullable=True),
    sa.Column('application_ref', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', name=op.f(f'pk_caseload_benefits{suffix}'))
    )
    with op.batch_alter_table(f'caseload_benefits{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_benefits{suffix}_current', ['municipality', 'recorded_to', 'start_date'], unique=False)

    op.create_table(f'caseload_client_facts{suffix}',
    sa.Column('record_id', sa.String(length=401), nullable=False),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('coach_ref', sa.String(length=200), nullable=True),
    sa.Column('ladder_step', sa.Integer(), nullable=True),
    sa.Column('target_step', sa.Integer(), nullable=True),
    sa.Column('client_stream', sa.String(length=20), nullable=True),
    sa.Column('work_obligation_exempt', sa.Boolean(), nullable=True),
    sa.Column('long_trajectory', sa.Boolean(), nullable=True),
    sa.Column('plan_ref', sa.String(length=200), nullable=True),
    sa.Column('application_ref', sa.String(length=200), nullable=True),
    sa.Column('sanction_kind', sa.String(length=20), nullable=True),
    sa.Column('benefit_ref', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('record_id', name=op.f(f'pk_caseload_client_facts{suffix}'))
    )
    with op.batch_alter_table(f'caseload_client_facts{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_client_facts{suffix}_client', ['client_ref', 'type', 'effective_date'], unique=False)
        batch_op.create_index(f'ix_caseload_client_facts{suffix}_coach', ['coach_ref'], unique=False)

    op.create_table(f'caseload_entities{suffix}',
    sa.Column('entity_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('fact', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('entity_key', name=op.f(f'pk_caseload_entities{suffix}'))
    )

    op.create_table(f'caseload_events{suffix}',
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('entity_key', sa.String(length=300), nullable=True),
    sa.Column('type', sa.String(length=100), nullable=True),
    sa.Column('time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wire', sa.Text(), nullable=True),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retracted_by', sa.String(length=200), nullable=True),
    sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('source', 'event_id', name=op.f(f'pk_caseload_events{suffix}'))
    )
    with op.batch_alter_table(f'caseload_events{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_events{suffix}_entity', ['entity_key'], unique=False)

    op.create_table(f'caseload_placements{suffix}',
    *_version_columns(),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('hours_per_week', sa.Float(), nullable=True),
    sa.Column('employer_ref', sa.String(length=200), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', name=op.f(f'pk_caseload_placements{suffix}'))
    )
    with op.batch_alter_table(f'caseload_placements{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_placements{suffix}_current', ['municipality', 'recorded_to'], unique=False)

    op.create_table(f'caseload_trajectories{suffix}',
    *_version_columns(),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', name=op.f(f'pk_caseload_trajectories{suffix}'))
    )

    op.create_table(f'caseload_trajectory_phases{suffix}',
    *_version_columns(seq=True),
    sa.Column('phase', sa.String(length=40), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('client_ref', sa.String(length=200), nullable=False),
    sa.Column('municipality', sa.String(length=6), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('entity_key', 'version', 'seq', name=op.f(f'pk_caseload_trajectory_phases{suffix}'))
    )
    with op.batch_alter_table(f'caseload_trajectory_phases{suffix}', schema=None) as batch_op:
        batch_op.create_index(f'ix_caseload_trajectory_phases{suffix}_current', ['municipality', 'recorded_to'], unique=False)


def upgrade() -> None:
    for suffix in ("", "_next"):
        _create_state_tables(suffix)
    op.create_table('caseload_dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caseload_dead_letters'))
    )


def _drop_state_tables(suffix: str) -> None:
    with op.batch_alter_table(f'caseload_trajectory_phases{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_trajectory_phases{suffix}_current')
    op.drop_table(f'caseload_trajectory_phases{suffix}')
    op.drop_table(f'caseload_trajectories{suffix}')
    with op.batch_alter_table(f'caseload_placements{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_placements{suffix}_current')
    op.drop_table(f'caseload_placements{suffix}')
    with op.batch_alter_table(f'caseload_events{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_events{suffix}_entity')
    op.drop_table(f'caseload_events{suffix}')
    op.drop_table(f'caseload_entities{suffix}')
    with op.batch_alter_table(f'caseload_client_facts{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_client_facts{suffix}_coach')
        batch_op.drop_index(f'ix_caseload_client_facts{suffix}_client')
    op.drop_table(f'caseload_client_facts{suffix}')
    with op.batch_alter_table(f'caseload_benefits{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_benefits{suffix}_current')
    op.drop_table(f'caseload_benefits{suffix}')
    with op.batch_alter_table(f'caseload_benefit_members{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_benefit_members{suffix}_current')
        batch_op.drop_index(f'ix_caseload_benefit_members{suffix}_client')
    op.drop_table(f'caseload_benefit_members{suffix}')
    with op.batch_alter_table(f'caseload_applications{suffix}', schema=None) as batch_op:
        batch_op.drop_index(f'ix_caseload_applications{suffix}_current')
    op.drop_table(f'caseload_applications{suffix}')


def downgrade() -> None:
    op.drop_table('caseload_dead_letters')
    for suffix in ("_next", ""):
        _drop_state_tables(suffix)
