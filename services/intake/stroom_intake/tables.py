"""The intake tables: the event store that doubles as the transactional outbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from stroom_contract.types import MAX_REF_LENGTH
from stroom_platform.audit import audit_table
from stroom_platform.db import new_metadata
from stroom_platform.dialect import UtcDateTime, big_key

metadata = new_metadata()

# What makes an event the same event: its (source, id), the key of `intake_events`.
EventKey = tuple[str, str]

# One row per accepted (source, id); `published_at` is NULL until the broker acknowledged it.
events = Table(
    "intake_events",
    metadata,
    Column("seq", big_key(), primary_key=True, autoincrement=True),
    Column("source", String(MAX_REF_LENGTH), nullable=False),
    Column("event_id", String(MAX_REF_LENGTH), nullable=False),
    Column("type", String(100), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("entity_key", String(500), nullable=False),
    # SHA-256 of the canonical pseudonymised wire form: tells a redelivery from a conflict.
    Column("fingerprint", String(64), nullable=False),
    Column("wire", Text, nullable=False),
    # Read back aware on both engines (SQLite keeps times naive), as the backlog's ages need.
    Column("received_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
    # Named as migration 0001 created it (the convention would append every column).
    UniqueConstraint("source", "event_id", name="uq_intake_events_source"),
)

Index(
    "ix_intake_events_unpublished",
    events.c.seq,
    postgresql_where=events.c.published_at.is_(None),
    sqlite_where=events.c.published_at.is_(None),
)

# The numeric `sequence` of each accepted event per source, to find the numbers a source skipped.
source_sequences = Table(
    "intake_source_sequences",
    metadata,
    Column("source", String(MAX_REF_LENGTH), primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
)

# Append-only and hash-chained: who read or changed what (stroom_platform.audit).
audit = audit_table(metadata, "intake")

# One row: the broker epoch (`stroom_platform.broker.broker_epoch`) under which the rows marked
# published were acknowledged. Another epoch means the broker may have lost them.
broker_epoch = Table(
    "intake_broker_epoch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", String(64), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
