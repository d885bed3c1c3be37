"""Reporting read models: bitemporal spell tables, client records and the monthly aggregate.

Every text key and code is a `key_text` (collation "C" on PostgreSQL): no person reads them in
the database's order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    Table,
    Text,
)

from stroom_platform.audit import audit_table
from stroom_platform.db import new_metadata
from stroom_platform.dialect import UtcDateTime, key_text

metadata = new_metadata()


def versioned(name: str, *columns: Column[Any] | Index, entity_index: str = "hash") -> Table:
    """A bitemporal table: rows of an entity's versions, each valid from its recorded_from until
    the next version's (recorded_to, open while current)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("entity", key_text(300), nullable=False),
        *columns,
        Column("recorded_from", UtcDateTime(), nullable=False),
        Column("recorded_to", UtcDateTime()),
        # Only ever looked up by equality (a batch's entities), and written with every row the
        # load adds: PostgreSQL's hash index keeps a hash per row instead of the whole key.
        Index(f"ix_{name}_entity", "entity", postgresql_using=entity_index),
    )


def _of_client() -> tuple[Column[Any], Column[Any]]:
    return (
        Column("client_ref", key_text(200), nullable=False),
        Column("municipality", key_text(6), nullable=False, index=True),
    )


entities = Table(
    "reporting_entities",
    metadata,
    Column("entity", key_text(300), primary_key=True),
    Column("kind", key_text(20), nullable=False),
    Column("revision", Integer, nullable=False),
)

# An entity's facts changes whose base revision has not been applied yet, as they came (JSON).
pending_changes = Table(
    "reporting_pending_changes",
    metadata,
    Column("entity", key_text(300), primary_key=True),
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("change", Text, nullable=False),
)

# Benefits (unit `benefits`) and memberships (unit `persons`) in one table: the same counting.
count_spells = versioned(
    "reporting_count_spells",
    Column("unit", key_text(10), nullable=False),
    Column("municipality", key_text(6), nullable=False),
    Column("regulation", key_text(4), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("start_month", Integer, nullable=False),
    Column("end_month", Integer),
    Column("inflow_reason", key_text(40)),
    Column("outflow_reason", key_text(40)),
    Column("client_ref", key_text(200)),
    Column("role", key_text(10)),
    Column("birth_date", Date),
    Index("ix_reporting_count_spells_start", "municipality", "unit", "start_month"),
    Index("ix_reporting_count_spells_end", "municipality", "unit", "end_month"),
)

placement_spells = versioned(
    "reporting_placement_spells",
    *_of_client(),
    Column("kind", key_text(30), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("hours_per_week", Float),
)

applications = versioned(
    "reporting_applications",
    *_of_client(),
    Column("regulation", key_text(4), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("decision", key_text(10)),
    Column("decided_on", Date),
    # The applications of a batch's plans' clients are looked up by client (kpi_store).
    Index("ix_reporting_applications_client_ref", "client_ref", postgresql_using="hash"),
)

phase_spells = versioned(
    "reporting_phase_spells",
    *_of_client(),
    Column("phase", key_text(30), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("is_last", Boolean, nullable=False),
    Column("outcome", key_text(30)),
)

client_records = Table(
    "reporting_client_records",
    metadata,
    Column("record_id", key_text(300), primary_key=True),
    Column("client_ref", key_text(200), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("type", key_text(20), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("retracted_at", UtcDateTime()),
    Column("ladder_step", Integer),
    Column("target_step", Integer),
    Column("client_stream", key_text(15)),
    Column("work_obligation_exempt", Boolean),
    Column("coach_ref", key_text(200)),
    Column("payload", Text, nullable=False),
)


def _month_key() -> tuple[Column[Any], ...]:
    """The key of a figure of the monthly report: municipality, regulation, unit, month."""
    return (
        Column("municipality", key_text(6), primary_key=True),
        Column("regulation", key_text(4), primary_key=True),
        Column("unit", key_text(10), primary_key=True),
        Column("month", Integer, primary_key=True),
    )


# Current (not as_of) inflow and outflow per month, kept in step with count_spells, and when each
# month's flows were last restated (wall-clock time of the reporting service). changed_at is set
# again by every batch that moves the month, and read only with the municipalities the key leads
# with: not indexed, so that the update is made in place (HOT).
monthly = Table(
    "reporting_monthly",
    metadata,
    *_month_key(),
    Column("inflow", Integer, nullable=False),
    Column("outflow", Integer, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
)

# The current flows summed per year, kept in step with `monthly`: the opening stock of a period is
# read a row a year, not one a month since the history began.
year_flows = Table(
    "reporting_year_flows",
    metadata,
    Column("municipality", key_text(6), primary_key=True),
    Column("regulation", key_text(4), primary_key=True),
    Column("unit", key_text(10), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("inflow", Integer, nullable=False),
    Column("outflow", Integer, nullable=False),
)

# The net changes of monthly flows in recorded time, only those recorded in a later month than
# the month they change (domain.status.late_changes): what a revision of a definitive month is
# made of, without reading the versions of every spell.
late_flows = Table(
    "reporting_late_flows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("municipality", key_text(6), nullable=False),
    Column("regulation", key_text(4), nullable=False),
    Column("unit", key_text(10), nullable=False),
    Column("month", Integer, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    # Whole months from `month` to recorded_at: a change can only revise a month definitive
    # `definitive_months` after its end when it came at least one month later than that.
    Column("lateness", Integer, nullable=False, index=True),
    Column("inflow", Integer, nullable=False),
    Column("outflow", Integer, nullable=False),
)


def _cell_key() -> tuple[Column[Any], ...]:
    """The key of a KPI cell (domain.kpi_cells): measure, municipality, month and its detail."""
    return (
        Column("measure", key_text(4), primary_key=True),
        Column("municipality", key_text(6), primary_key=True),
        Column("month", Integer, primary_key=True),
        Column("detail", key_text(100), primary_key=True),
    )


# What each benefit and plan (entity: the benefit's key, the plan's record_id) contributes to the
# KPIs over recorded time, so that a sheet as of an earlier moment is a sum of the cells valid then.
kpi_cells = versioned(
    "reporting_kpi_cells",
    *(Column(c.name, c.type, nullable=False) for c in _cell_key()),
    Column("a", BigInteger, nullable=False),
    Column("b", BigInteger, nullable=False),
    # The as-of sheet sums some measures over a span of months (queries._kpi_sums).
    Index("ix_reporting_kpi_cells_measure_month", "measure", "municipality", "month"),
    # A B-tree, as built: a hash index wrote no faster into this table (measured at 30k events).
    entity_index="btree",
)

# The current cells summed per key, kept in step with kpi_cells: what the KPI sheet reads.
kpi_totals = Table(
    "reporting_kpi_totals",
    metadata,
    *_cell_key(),
    Column("a", BigInteger, nullable=False),
    Column("b", BigInteger, nullable=False),
)


def _per_year(name: str) -> Table:
    """Current cells summed per year, kept in step with kpi_totals by the same deltas."""
    return Table(
        name,
        metadata,
        Column("measure", key_text(4), primary_key=True),
        Column("municipality", key_text(6), primary_key=True),
        Column("year", Integer, primary_key=True),
        Column("detail", key_text(100), primary_key=True),
        Column("a", BigInteger, nullable=False),
        Column("b", BigInteger, nullable=False),
    )


# The current flow cells (kpi_cells.FLOWS) summed per year: a sheet's whole years read a row per
# value and year, not one per value and month.
kpi_year_totals = _per_year("reporting_kpi_year_totals")

# The current month-end changes (kpi_cells.CHANGES) summed per year: a count at a month end is
# the sum of every change up to it, so a sheet reads a row per year before its period, not one
# per month since the history began.
kpi_year_changes = _per_year("reporting_kpi_year_changes")

# The persons of every benefit (any version): a client's records and benefits restate the KPI
# cells of the other benefits of the same persons.
kpi_people = Table(
    "reporting_kpi_people",
    metadata,
    Column("client_ref", key_text(200), primary_key=True),
    Column("entity", key_text(300), primary_key=True, index=True),
)

# The applications each plan may be linked to, by client and by name: an application's fact
# restates the K3 cells of these plans.
kpi_plans = Table(
    "reporting_kpi_plans",
    metadata,
    Column("record_id", key_text(300), primary_key=True),
    Column("client_ref", key_text(200), nullable=False, index=True),
    Column("application", key_text(300), index=True),
)

# What the facts' transactions left for the KPI cells' own step (kpi_store.restate_pending),
# written with the facts so that a restart loses none: per benefit the recorded moments from
# which its two parts are restated (None: the part stands), the plans to restate, and the client
# records whose stored row was replaced meanwhile (their rows no longer tell how they read before).
# A queue without a key: each batch appends its rows, one a benefit may already have from an
# earlier batch, and the restate takes all of them at once, each benefit from its earliest
# moments. Nothing looks a row up, so an index would only cost every row appended.
kpi_pending = Table(
    "reporting_kpi_pending",
    metadata,
    Column("kind", key_text(10), nullable=False),
    Column("key", key_text(300), nullable=False),
    Column("standing_since", UtcDateTime()),
    Column("outflow_since", UtcDateTime()),
)

# Moved in the transaction of every change of the read models (facts applied, KPI cells built
# again): a finished answer kept under one generation is still the answer while it stands.
generation = Table(
    "reporting_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)
# Each move is told on this channel when it commits (PostgreSQL NOTIFY).
GENERATION_MOVED = "stroom_reporting_generation"

freshness = Table(
    "reporting_freshness",
    metadata,
    Column("read_model", key_text(20), primary_key=True),
    Column("applied_at", UtcDateTime(), nullable=False),
    # The newest recorded time of the facts applied last, and the newest of all applied ever:
    # after a late import of old events the first is old, the second still today's.
    Column("latest_recorded", UtcDateTime()),
    Column("facts_applied", Integer, nullable=False),
    Column("newest_recorded", UtcDateTime()),
)

# Append-only and hash-chained: who read or changed what (stroom_platform.audit).
audit = audit_table(metadata, "reporting")
