"""reporting_year_flows: the current monthly flows summed per year

A report's opening stock is the sum of every flow before its first month: kept per month only,
the monthly report and the KPI sheet read a row per municipality, regulation, unit and month
since the history began, more the longer it is. Kept per year beside them, the whole years
before a period read one row a year. Filled from reporting_monthly.

Revision ID: yearflows01
Revises: kpiyear01
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "yearflows01"
down_revision = "kpiyear01"
branch_labels = None
depends_on = None

TABLE = "reporting_year_flows"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("regulation", sa.String(length=4), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("inflow", sa.Integer(), nullable=False),
        sa.Column("outflow", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("municipality", "regulation", "unit", "year", name=op.f(f"pk_{TABLE}")),
    )
    op.execute(
        f"INSERT INTO {TABLE} (municipality, regulation, unit, year, inflow, outflow) "
        "SELECT municipality, regulation, unit, month / 100, SUM(inflow), SUM(outflow) "
        "FROM reporting_monthly GROUP BY municipality, regulation, unit, month / 100"
    )


def downgrade() -> None:
    op.drop_table(TABLE)
