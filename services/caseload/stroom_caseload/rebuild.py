"""Rebuild: replay the events topic from the start into the shadow tables, then swap them in."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_caseload.bulk import BulkWriter
from stroom_caseload.consumer import as_headers
from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.publishing import send_all
from stroom_caseload.refold import refold
from stroom_caseload.repository import CaseloadRepository, ClientRow, stored_event
from stroom_caseload.service import APPLY_LOCK, apply_events, client_records
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.shadow_ledger import ShadowLedger
from stroom_caseload.status import true_end_offsets
from stroom_caseload.tables import live, shadow
from stroom_contract.events import Envelope
from stroom_contract.kafka_binding import decode_wire
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.db import make_engine
from stroom_platform.organisations import load_organisations

# The swap is one transaction that first shuts out the workers (PostgreSQL: an exclusive
# advisory lock they take shared per batch; SQLite: the single write lock), applies what
# arrived on the topic meanwhile, and puts the shadow set in place of the live one: PostgreSQL
# swaps the tables' names (its DDL is transactional), SQLite copies the rows. Each rebuilt
# entity's revision is set above its live one, so facts consumers accept the republished facts.
log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
Load = Callable[[Sequence[Envelope]], Awaitable[object]]


@dataclass(frozen=True)
class RebuildResult:
    records: int
    skipped: int
    entities: int
    client_records: int


class _Replayer:
    def __init__(self, settings: CaseloadSettings, validator: EventValidator, progress: Progress) -> None:
        self.settings = settings
        self.validator = validator
        self.progress = progress
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            max_poll_records=5000,
        )
        # A second consumer finds the end offsets without moving the replay's positions.
        self.probe = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        self.records = 0
        self.skipped = 0

    async def start(self) -> list[TopicPartition]:
        await self.consumer.start()
        await self.probe.start()
        await self.consumer.topics()
        partitions = self.consumer.partitions_for_topic(self.settings.events_topic) or set()
        tps = [TopicPartition(self.settings.events_topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        return tps

    async def ends(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return await true_end_offsets(self.probe, tps)

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.probe.stop()

    async def replay_until(self, load: Load, ends: dict[TopicPartition, int]) -> None:
        """Every record before `ends`, a batch at a time."""
        total = sum(ends.values())
        envelopes: list[Envelope] = []
        while True:
            pending = [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]
            if pending:
                fetched = await self.consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            self._decode(record.value, record.headers, envelopes)
            # Fetches are small; transactions are not, for throughput.
            if envelopes and (not pending or len(envelopes) >= self.settings.rebuild_batch_size):
                await load(envelopes)
                envelopes = []
                self.progress(self.records, total)
            if not pending:
                return

    def _decode(self, value: bytes, headers: Any, into: list[Envelope]) -> None:
        self.records += 1
        try:
            into.append(self.validator.validate(decode_wire(value, as_headers(headers))))
        except (InvalidEvent, ValueError):
            self.skipped += 1  # dead-lettered when it first came by


async def _lock_out_workers(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPLY_LOCK})
    else:
        # Any write takes SQLite's database-wide write lock for the rest of the transaction.
        await conn.execute(update(live.entities).where(text("1 = 0")).values(revision=0))


async def _reset_shadow(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # After a swap by renaming, the shadow set holds the previous live rows.
            await conn.execute(text(f"TRUNCATE {', '.join(t.name for t in shadow.all)}"))
        else:
            for table in shadow.all:
                await conn.execute(delete(table))


async def _continue_revisions(conn: AsyncConnection) -> None:
    """Every rebuilt fact gets a revision above whatever the live workers have published. The
    refold set each one above the live revision of its time: only those moved on since differ."""
    sh, lv = shadow.entities, live.entities
    wanted = func.coalesce(lv.c.revision, 0) + 1
    rows = await conn.execute(
        select(sh.c.entity_key, sh.c.fact, wanted)
        .select_from(sh.outerjoin(lv, lv.c.entity_key == sh.c.entity_key))
        .where(sh.c.revision != wanted)
    )
    changed = []
    for key, fact, revision in rows:
        value = orjson.loads(fact)
        value["revision"] = revision
        changed.append({"key": key, "revision": revision, "fact": orjson.dumps(value).decode()})
    if changed:
        sh = shadow.entities
        await conn.execute(
            update(sh)
            .where(sh.c.entity_key == bindparam("key"))
            .values(revision=bindparam("revision"), fact=bindparam("fact")),
            changed,
        )
    # A person's point facts are published with their ledger row's revision.
    she, lve = shadow.events, live.events
    await conn.execute(
        update(she)
        .where(
            she.c.source == lve.c.source,
            she.c.event_id == lve.c.event_id,
            she.c.type.in_(sorted(CLIENT_EVENT_TYPES)),
            she.c.revision <= lve.c.revision,
        )
        .values(revision=lve.c.revision + 1)
    )


async def _swap(conn: AsyncConnection) -> None:
    await _continue_revisions(conn)
    for live_table, shadow_table in zip(live.all, shadow.all, strict=True):
        if conn.dialect.name == "postgresql":
            await _swap_names(conn, live_table, shadow_table)
        else:
            await conn.execute(delete(live_table))
            columns = [c.name for c in live_table.columns]
            await conn.execute(insert(live_table).from_select(columns, select(shadow_table)))


async def _swap_names(conn: AsyncConnection, live_table: Table, shadow_table: Table) -> None:
    """The shadow table, its key and its indexes take the live names and the other way round, so
    the schema stays as migrated (renaming a key's index renames the constraint with it)."""
    indexes = [live_table.primary_key.name, *(index.name for index in live_table.indexes)]
    renames = [("TABLE", live_table.name, shadow_table.name)]
    renames += [
        ("INDEX", str(name), str(name).replace(live_table.name, shadow_table.name, 1)) for name in indexes
    ]
    for kind, live_name, shadow_name in renames:
        parked = f"{live_name}_swapping"
        await conn.execute(text(f"ALTER {kind} {live_name} RENAME TO {parked}"))
        await conn.execute(text(f"ALTER {kind} {shadow_name} RENAME TO {live_name}"))
        await conn.execute(text(f"ALTER {kind} {parked} RENAME TO {shadow_name}"))


async def _republish(engine: AsyncEngine, settings: CaseloadSettings) -> tuple[int, int]:
    """Every entity fact and every client record: (entities, client records)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=20,
        max_batch_size=settings.facts_batch_bytes,
    )
    await producer.start()
    entities = clients = 0
    try:
        async with engine.connect() as conn:
            en = live.entities
            result = await conn.stream(select(en.c.entity_key, en.c.fact).execution_options(yield_per=5000))
            async for rows in result.partitions():
                await send_all(producer, settings.facts_topic, ((k.encode(), f.encode()) for k, f in rows))
                entities += len(rows)
            ev = live.events
            client_events = await conn.stream(
                select(ev.c.source, ev.c.event_id, ev.c.wire, ev.c.retracted_at, ev.c.revision)
                .where(ev.c.wire.is_not(None), ev.c.type.in_(sorted(CLIENT_EVENT_TYPES)))
                .execution_options(yield_per=5000)
            )
            async for batch in client_events.partitions():
                stored = [(r, stored_event(r.wire, r.retracted_at)) for r in batch]
                records = [
                    ClientRow(r.source, r.event_id, e.event, e.retracted_at, r.revision) for r, e in stored
                ]
                facts = client_records(records)
                await send_all(producer, settings.facts_topic, ((f.key.encode(), f.value) for f in facts))
                clients += len(records)
        await producer.flush()
    finally:
        await producer.stop()
    return entities, clients


async def rebuild(settings: CaseloadSettings, progress: Progress = lambda done, total: None) -> RebuildResult:
    organisations = load_organisations(settings.organisations_file)
    validator = EventValidator(None, organisations.municipality_codes)
    engine = make_engine(settings.caseload_database_url)
    replayer = _Replayer(settings, validator, progress)
    try:
        await _reset_shadow(engine)
        tps = await replayer.start()
        try:
            async with BulkWriter.open(engine) as writer:
                ledger = ShadowLedger(writer)
                await replayer.replay_until(ledger.add, await replayer.ends(tps))
                await ledger.finish()
                # Each entity folded once from the whole ledger, not once per batch it appears in.
                await refold(engine, writer)
            async with engine.begin() as conn:
                # The catch-up below is planned on these tables, as are the queries once live.
                for table in shadow.all:
                    await CaseloadRepository(conn, shadow).analyse(table)
            async with engine.begin() as conn:
                await _lock_out_workers(conn)
                await replayer.replay_until(
                    lambda envelopes: apply_events(conn, envelopes, shadow), await replayer.ends(tps)
                )
                await _swap(conn)
        finally:
            await replayer.stop()
        entities, clients = await _republish(engine, settings)
    finally:
        await engine.dispose()
    log.info(
        "rebuild swapped in",
        extra={"records": replayer.records, "entities": entities, "client_records": clients},
    )
    return RebuildResult(replayer.records, replayer.skipped, entities, clients)
