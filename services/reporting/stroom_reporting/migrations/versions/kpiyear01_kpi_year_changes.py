"""reporting_kpi_year_changes: the current month-end changes summed per year

A KPI sheet reads P, K1 and K2 as counts at month ends, each the sum of every change up to that
month: kept per month only, a sheet read a row per municipality, measure and month since the
history began, more the longer it is. Kept per year beside them, the months before its period
read one row a year. Filled from reporting_kpi_totals.

Revision ID: kpiyear01
Revises: kpiflow01
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "kpiyear01"
down_revision = "kpiflow01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_year_changes"
CHANGES = ("P", "K1", "K2")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("measure", sa.String(length=4), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=100), nullable=False),
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("measure", "municipality", "year", "detail", name=op.f(f"pk_{TABLE}")),
    )
    measures = ", ".join(f"'{m}'" for m in CHANGES)
    op.execute(
        f"INSERT INTO {TABLE} (measure, municipality, year, detail, a, b) "
        "SELECT measure, municipality, month / 100, detail, SUM(a), SUM(b) FROM reporting_kpi_totals "
        f"WHERE measure IN ({measures}) GROUP BY measure, municipality, month / 100, detail"
    )


def downgrade() -> None:
    op.drop_table(TABLE)
