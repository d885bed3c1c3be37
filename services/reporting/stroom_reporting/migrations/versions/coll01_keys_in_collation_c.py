"""reporting keys and codes in collation "C"

The keys and codes of every reporting table (entities, clients, records, municipalities,
regulations, units, measures, details) in collation "C" on PostgreSQL: their indexes compare bytes
instead of calling the locale's strcoll on every insert, lookup and sort. No person reads them in
the database's order. Rewrites every index on those columns (the primary keys included), once per
table; the rows themselves stay as they are. SQLite: nothing changes.

Revision ID: coll01
Revises: hot01
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from stroom_platform.dialect import collated

revision = "coll01"
down_revision = "hot01"
branch_labels = None
depends_on = None

_ENTITY = ("entity", 300)
_CLIENT = ("client_ref", 200)
_MUNICIPALITY = ("municipality", 6)
_REGULATION = ("regulation", 4)
_UNIT = ("unit", 10)
_CELL = [("measure", 4), _MUNICIPALITY, ("detail", 100)]
_MONTH = [_MUNICIPALITY, _REGULATION, _UNIT]

# (table, [(column, length)]), the lengths tables.py gives them.
_KEYS = [
    ("reporting_entities", [_ENTITY, ("kind", 20)]),
    ("reporting_pending_changes", [_ENTITY]),
    (
        "reporting_count_spells",
        [
            _ENTITY,
            _UNIT,
            _MUNICIPALITY,
            _REGULATION,
            ("inflow_reason", 40),
            ("outflow_reason", 40),
            _CLIENT,
            ("role", 10),
        ],
    ),
    ("reporting_placement_spells", [_ENTITY, _CLIENT, _MUNICIPALITY, ("kind", 30)]),
    ("reporting_applications", [_ENTITY, _CLIENT, _MUNICIPALITY, _REGULATION, ("decision", 10)]),
    ("reporting_phase_spells", [_ENTITY, _CLIENT, _MUNICIPALITY, ("phase", 30), ("outcome", 30)]),
    (
        "reporting_client_records",
        [("record_id", 300), _CLIENT, ("type", 20), ("client_stream", 15), ("coach_ref", 200)],
    ),
    ("reporting_monthly", _MONTH),
    ("reporting_year_flows", _MONTH),
    ("reporting_late_flows", _MONTH),
    ("reporting_changes", _MONTH),
    ("reporting_kpi_cells", [_ENTITY, *_CELL]),
    ("reporting_kpi_totals", _CELL),
    ("reporting_kpi_year_totals", _CELL),
    ("reporting_kpi_year_changes", _CELL),
    ("reporting_kpi_people", [_CLIENT, _ENTITY]),
    ("reporting_kpi_plans", [("record_id", 300), _CLIENT, ("application", 300)]),
    ("reporting_kpi_pending", [("kind", 10), ("key", 300)]),
    ("reporting_freshness", [("read_model", 20)]),
]


def upgrade() -> None:
    for statement in collated(op.get_bind(), _KEYS, "C"):
        op.execute(statement)


def downgrade() -> None:
    for statement in collated(op.get_bind(), _KEYS, "default"):
        op.execute(statement)
