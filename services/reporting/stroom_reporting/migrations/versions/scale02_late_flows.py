"""reporting_late_flows: the flow changes that can revise a definitive month, filled from the spells

Revision ID: scale02
Revises: scale01
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from stroom_reporting.domain.status import late_changes, months_between

revision = "scale02"
down_revision = "scale01"
branch_labels = None
depends_on = None

TABLE = "reporting_late_flows"


def upgrade() -> None:
    late_flows = op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("regulation", sa.String(length=4), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lateness", sa.Integer(), nullable=False),
        sa.Column("inflow", sa.Integer(), nullable=False),
        sa.Column("outflow", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{TABLE}_lateness"), ["lateness"], unique=False)
    spells = sa.table(
        "reporting_count_spells",
        *(sa.column(name) for name in ("municipality", "regulation", "unit", "start_month", "end_month")),
        sa.column("recorded_from", sa.DateTime(timezone=True)),
        sa.column("recorded_to", sa.DateTime(timezone=True)),
    )

    def utc(moment: datetime | None) -> datetime | None:
        # SQLite hands back the stored UTC time without its zone.
        return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)

    versions = [
        ((*row[:5], utc(row[5]), utc(row[6])), 1)
        for row in op.get_bind().execute(sa.select(spells))
    ]
    rows = [
        {
            "municipality": m,
            "regulation": r,
            "unit": u,
            "month": month,
            "recorded_at": at,
            "lateness": months_between(month, at),
            "inflow": inflow,
            "outflow": outflow,
        }
        for m, r, u, month, at, inflow, outflow in late_changes(versions)
    ]
    if rows:
        op.bulk_insert(late_flows, rows)


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f"ix_{TABLE}_lateness"))
    op.drop_table(TABLE)
