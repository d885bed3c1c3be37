"""reporting_kpi_cells, _totals and _people: the KPI sheet materialised per municipality and month

Existing databases are filled by `stroom reporting kpi-cells` (the cells are computed by the
service's rules from the stored read models, which a migration cannot run).

Revision ID: kpi01
Revises: scale02
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "kpi01"
down_revision = "scale02"
branch_labels = None
depends_on = None

CELLS, TOTALS, PEOPLE = "reporting_kpi_cells", "reporting_kpi_totals", "reporting_kpi_people"


def _key(primary: bool) -> list[sa.Column[object]]:
    return [
        sa.Column("measure", sa.String(length=4), nullable=False, primary_key=primary),
        sa.Column("municipality", sa.String(length=6), nullable=False, primary_key=primary),
        sa.Column("month", sa.Integer(), nullable=False, primary_key=primary),
        sa.Column("detail", sa.String(length=100), nullable=False, primary_key=primary),
    ]


def upgrade() -> None:
    op.create_table(
        CELLS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=300), nullable=False),
        *_key(False),
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.Column("recorded_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_to", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{CELLS}")),
    )
    with op.batch_alter_table(CELLS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{CELLS}_entity"), ["entity"], unique=False)
        batch_op.create_index(f"ix_{CELLS}_month", ["municipality", "month"], unique=False)
    op.create_table(
        TOTALS,
        *_key(False),
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("measure", "municipality", "month", "detail", name=op.f(f"pk_{TOTALS}")),
    )
    op.create_table(
        PEOPLE,
        sa.Column("client_ref", sa.String(length=200), nullable=False),
        sa.Column("entity", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("client_ref", "entity", name=op.f(f"pk_{PEOPLE}")),
    )
    with op.batch_alter_table(PEOPLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{PEOPLE}_entity"), ["entity"], unique=False)


def downgrade() -> None:
    for table in (PEOPLE, TOTALS, CELLS):
        op.drop_table(table)
