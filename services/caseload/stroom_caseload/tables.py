"""Tables of the caseload service: the applied-event ledger, entity revisions, bitemporal state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.sql.schema import SchemaItem

from stroom_platform.audit import audit_table
from stroom_platform.db import new_metadata
from stroom_platform.dialect import key_text

# Every state row is one version of an entity, valid over recorded time
# [recorded_from, recorded_to) (`recorded_to` NULL for the current one), so any figure can be
# computed as known at an earlier moment. The same set exists twice: the live tables and a
# `_next` shadow set that `stroom caseload rebuild` fills and then swaps in.
metadata = new_metadata()

_KEY = 300


def _versioned(name: str, meta: MetaData, *columns: SchemaItem, seq: bool = False) -> Table:
    keys: list[SchemaItem] = [
        Column("entity_key", key_text(_KEY), primary_key=True),
        Column("version", Integer, primary_key=True),
    ]
    if seq:
        keys.append(Column("seq", Integer, primary_key=True))
    return Table(
        name,
        meta,
        *keys,
        Column("recorded_from", DateTime(timezone=True), nullable=False),
        Column("recorded_to", DateTime(timezone=True)),
        *columns,
    )


def _open_spells(table: Table) -> None:
    """The open version of each spell of an entity: an event that changes a spell closes it (the
    primary key leads to every version of every spell of the entity, a thousand on a benefit of
    a thousand events)."""
    open_ = table.c.recorded_to.is_(None)
    Index(
        f"ix_{table.name}_open", table.c.entity_key, table.c.seq, postgresql_where=open_, sqlite_where=open_
    )


@dataclass(frozen=True)
class Tables:
    events: Table
    entities: Table
    benefits: Table
    members: Table
    placements: Table
    applications: Table
    trajectories: Table
    phases: Table
    client_facts: Table

    @property
    def states(self) -> tuple[Table, ...]:
        """The per-version state tables, rewritten for an entity on every recompute."""
        return (
            self.benefits,
            self.members,
            self.placements,
            self.applications,
            self.trajectories,
            self.phases,
        )

    @property
    def all(self) -> tuple[Table, ...]:
        return (self.events, self.entities, *self.states, self.client_facts)


def define(meta: MetaData, suffix: str = "") -> Tables:
    def n(name: str) -> str:
        return f"caseload_{name}{suffix}"

    events = Table(
        n("events"),
        meta,
        Column("source", key_text(200), primary_key=True),
        Column("event_id", key_text(200), primary_key=True),
        # NULL while only a retraction of this event is known (a placeholder row).
        Column("entity_key", key_text(_KEY)),
        Column("type", String(100)),
        Column("time", DateTime(timezone=True)),
        Column("wire", Text),
        Column("retracted_at", DateTime(timezone=True)),
        Column("retracted_by", String(200)),
        Column("revision", Integer, nullable=False, server_default="0"),
        Index(f"ix_{n('events')}_entity", "entity_key"),
    )
    entities = Table(
        n("entities"),
        meta,
        Column("entity_key", key_text(_KEY), primary_key=True),
        Column("kind", String(20), nullable=False),
        Column("revision", Integer, nullable=False),
        # NULL: not kept (a continued fold's), derived from the entity's events when asked for.
        Column("fact", Text),
    )
    benefits = _versioned(
        n("benefits"),
        meta,
        Column("municipality", key_text(6), nullable=False),
        Column("regulation", String(10), nullable=False),
        Column("start_date", Date, nullable=False),
        Column("end_date", Date),
        Column("inflow_reason", String(60), nullable=False),
        Column("outflow_reason", String(60)),
        Column("application_ref", String(200)),
        Index(f"ix_{n('benefits')}_current", "municipality", "recorded_to", "start_date"),
    )
    members = _versioned(
        n("benefit_members"),
        meta,
        Column("client_ref", String(200), nullable=False),
        Column("role", String(20), nullable=False),
        Column("birth_date", Date, nullable=False),
        Column("joined_on", Date, nullable=False),
        Column("left_on", Date),
        # The benefit's own columns, copied so that persons are counted without a join.
        Column("municipality", key_text(6), nullable=False),
        Column("regulation", String(10), nullable=False),
        Column("start_date", Date, nullable=False),
        Column("end_date", Date),
        seq=True,
    )
    Index(f"ix_{n('benefit_members')}_current", members.c.municipality, members.c.recorded_to)
    placements = _versioned(
        n("placements"),
        meta,
        Column("client_ref", String(200), nullable=False),
        Column("municipality", key_text(6), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("start_date", Date, nullable=False),
        Column("end_date", Date),
        Column("hours_per_week", Float),
        Column("employer_ref", String(200)),
        Column("end_reason", Text),
        Index(f"ix_{n('placements')}_current", "municipality", "recorded_to"),
    )
    applications = _versioned(
        n("applications"),
        meta,
        Column("client_ref", String(200), nullable=False),
        Column("municipality", key_text(6), nullable=False),
        Column("regulation", String(10), nullable=False),
        Column("received_on", Date, nullable=False),
        Column("decision", String(20)),
        Column("decided_on", Date),
        Index(f"ix_{n('applications')}_current", "municipality", "recorded_to"),
    )
    trajectories = _versioned(
        n("trajectories"),
        meta,
        Column("client_ref", String(200), nullable=False),
        Column("municipality", key_text(6), nullable=False),
        Column("end_date", Date),
        Column("outcome", String(40)),
    )
    phases = _versioned(
        n("trajectory_phases"),
        meta,
        Column("phase", String(40), nullable=False),
        Column("effective_date", Date, nullable=False),
        # The next phase's date: the phase holds on D when effective_date <= D < until.
        Column("until", Date),
        Column("client_ref", String(200), nullable=False),
        Column("municipality", key_text(6), nullable=False),
        Column("end_date", Date),
        seq=True,
    )
    Index(f"ix_{n('trajectory_phases')}_current", phases.c.municipality, phases.c.recorded_to)
    for spells in (members, phases):
        _open_spells(spells)
    client_facts = Table(
        n("client_facts"),
        meta,
        Column("record_id", key_text(401), primary_key=True),
        Column("client_ref", key_text(200), nullable=False),
        Column("type", key_text(30), nullable=False),
        Column("effective_date", Date, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("retracted_at", DateTime(timezone=True)),
        Column("coach_ref", String(200)),
        Column("ladder_step", Integer),
        Column("target_step", Integer),
        Column("client_stream", String(20)),
        Column("work_obligation_exempt", Boolean),
        Column("long_trajectory", Boolean),
        Column("plan_ref", String(200)),
        Column("application_ref", String(200)),
        Column("sanction_kind", String(20)),
        Column("benefit_ref", String(200)),
        # A client's facts are read by client, type and date; a coach's are found through them.
        Index(f"ix_{n('client_facts')}_client", "client_ref", "type", "effective_date"),
    )
    return Tables(
        events, entities, benefits, members, placements, applications, trajectories, phases, client_facts
    )


live = define(metadata)
shadow = define(metadata, "_next")

dead_letters = Table(
    "caseload_dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    # Set when a replay offered the record read here again: no longer a dead letter to count.
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    # A batch applied again (its offsets were not committed) records the same dead letters.
    Index("ix_caseload_dead_letters_position", "topic", "partition", "offset", unique=True),
)

# Append-only and hash-chained: who read or changed what (stroom_platform.audit).
audit = audit_table(metadata, "caseload")
