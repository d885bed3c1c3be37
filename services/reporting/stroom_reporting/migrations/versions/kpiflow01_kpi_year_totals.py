"""reporting_kpi_year_totals: the current flow cells summed per year

A KPI sheet sums each flow measure's cells (K3 per lead time, K5 per end date, the revolving door
per pair of reasons) over its period: kept per month, a year's sheet read twelve rows for each value
and municipality, more the more history a month holds. Kept per year beside them, its whole years
read one. Filled from reporting_kpi_totals.

Revision ID: kpiflow01
Revises: kpisheet01
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "kpiflow01"
down_revision = "kpisheet01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_year_totals"
FLOWS = ("K3", "K4", "K5", "door")


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
    measures = ", ".join(f"'{m}'" for m in FLOWS)
    op.execute(
        f"INSERT INTO {TABLE} (measure, municipality, year, detail, a, b) "
        "SELECT measure, municipality, month / 100, detail, SUM(a), SUM(b) FROM reporting_kpi_totals "
        f"WHERE measure IN ({measures}) GROUP BY measure, municipality, month / 100, detail"
    )


def downgrade() -> None:
    op.drop_table(TABLE)
