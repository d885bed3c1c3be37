"""reporting_kpi_cells: the as-of KPI sheet's index leads with the measure

An as-of sheet sums the cells of some measures in a span of months (queries._kpi_sums). Keyed on
municipality and month only, the index handed each period's flow measures (K3, K4, K5, door) every
cell of those months, the month-end changes of every benefit among them, to be filtered out row by
row: at 1,000,000 events about 212,000 index rows for 23,000 wanted. With the measure first it
hands the wanted ones. Replaced, not added: no other statement reads it, and each cell written
keeps one index to maintain.

Revision ID: kpisheet01
Revises: v2facts01
Create Date: 2026-12-04
"""

from alembic import op

revision = "kpisheet01"
down_revision = "v2facts01"
branch_labels = None
depends_on = None

TABLE = "reporting_kpi_cells"


def upgrade() -> None:
    op.drop_index("ix_reporting_kpi_cells_month", table_name=TABLE)
    op.create_index("ix_reporting_kpi_cells_measure_month", TABLE, ["measure", "municipality", "month"])


def downgrade() -> None:
    op.drop_index("ix_reporting_kpi_cells_measure_month", table_name=TABLE)
    op.create_index("ix_reporting_kpi_cells_month", TABLE, ["municipality", "month"])
