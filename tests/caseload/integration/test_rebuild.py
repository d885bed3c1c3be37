"""Rebuild from the topic while a worker keeps applying new events: nothing lost, revisions go up."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import RequestTimedOutError
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.history import deliver, simulate
from caseload.integration.expectations import (
    assert_facts_match_database,
    assert_projections_match,
    latest_facts,
)
from caseload.integration.publishing import publish, read_all, running_worker, wait_until_caught_up
from caseload.integration.test_consumer import create_topics, settings_for
from stroom_caseload.commands import migrate
from stroom_caseload.rebuild.republication import RepublicationRefused
from stroom_caseload.rebuild.run import rebuild
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

MUNICIPALITIES = ["GM0405", "GM0420"]
FIRST = date(2021, 1, 1)
MONTHS = 18
# Every table's columns, constraints and indexes by name, as the migration made them.
SCHEMA = """
SELECT table_name, column_name, ordinal_position::text, data_type, is_nullable,
       coalesce(column_default, ''), coalesce(character_maximum_length::text, '')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid), '', '', ''
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT tablename, indexname, indexdef, '', '', '', ''
  FROM pg_indexes WHERE schemaname = 'public'
"""


async def schema(engine: AsyncEngine) -> set[tuple[str, ...]]:
    async with engine.connect() as conn:
        return {tuple(row) for row in await conn.execute(text(SCHEMA))}


async def test_rebuild_beside_a_running_worker_restores_the_reference(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
) -> None:
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=31, per_month=4)
    delivered = deliver(raw, seed=2)
    half = len(delivered) // 2
    engine = make_engine(settings.caseload_database_url)
    migrated = await schema(engine)
    try:
        async with running_worker(settings) as client:
            await publish(broker.bootstrap_servers, settings.events_topic, raw, delivered[:half], validator)
            await wait_until_caught_up(client)
            async with engine.begin() as conn:
                before = dict(
                    (await conn.execute(select(live.entities.c.entity_key, live.entities.c.revision))).all()
                )
                # Damage the live projection: the rebuild must not depend on it.
                await conn.execute(delete(live.benefits))
            progress: list[tuple[int, int]] = []
            await asyncio.gather(
                rebuild(settings, lambda done, total: progress.append((done, total))),
                publish(broker.bootstrap_servers, settings.events_topic, raw, delivered[half:], validator),
            )
            await wait_until_caught_up(client)
        assert progress
        assert progress[-1][0] >= half
        assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 20
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        await assert_facts_match_database(engine, records)
        async with engine.connect() as conn:
            after = dict(
                (await conn.execute(select(live.entities.c.entity_key, live.entities.c.revision))).all()
            )
        assert all(after[key] > revision for key, revision in before.items())
        assert await schema(engine) == migrated
        # A second rebuild starts from the tables the first one swapped out.
        await rebuild(settings)
        assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 20
        assert await schema(engine) == migrated
    finally:
        await engine.dispose()


async def test_rebuild_on_sqlite_restores_the_reference_from_the_topic_alone(
    broker: EmbeddedBroker, tmp_path: Path, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    # The embedded mode runs on SQLite, where the swap copies rows instead of renaming tables.
    settings = settings_for(broker, f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}")
    await migrate(settings.caseload_database_url)
    await create_topics(broker, settings)
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=41, per_month=4)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    await publish(broker.bootstrap_servers, settings.events_topic, raw, deliver(raw, seed=4), validator)
    engine = make_engine(settings.caseload_database_url)
    try:
        for _ in range(2):
            result = await rebuild(settings)
            assert result.records >= len(raw)
            assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 20
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        await assert_facts_match_database(engine, records)
    finally:
        await engine.dispose()


async def publish_scattered(
    bootstrap: str, topic: str, delivered: list[dict[str, Any]], validator: EventValidator
) -> int:
    """Every retraction keyed by itself, as when intake did not know its target, and every
    fifth record delivered again to the next partition: what rebuild workers that each read some
    of the partitions must reconcile. Returns how many records went to another partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    strays = 0
    try:
        partitions = len(await producer.partitions_for(topic))
        for n, event in enumerate(delivered):
            envelope = validator.validate(event)
            key = entity_key(envelope) or f"retraction:{event['source']}:{event['data']['retracted_id']}"
            value, headers = encode(envelope)
            sent = await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
            if n % 5 == 0:
                elsewhere = (sent.partition + 1) % partitions
                await producer.send(topic, value, key=key.encode(), headers=headers, partition=elsewhere)
                strays += 1
        await producer.flush()
    finally:
        await producer.stop()
    return strays


async def test_rebuild_workers_reconcile_records_that_strayed_across_partitions(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
) -> None:
    settings = settings.model_copy(update={"rebuild_workers": 2})
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=43, per_month=4)
    assert any(event["type"] == "stroom.event.retracted.v1" for event in raw)
    strays = await publish_scattered(
        broker.bootstrap_servers, settings.events_topic, deliver(raw, seed=6), validator
    )
    engine = make_engine(settings.caseload_database_url)
    try:
        result = await rebuild(settings)
        assert result.records == len(deliver(raw, seed=6)) + strays
        assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 20
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(live.events))).scalar_one()
        assert stored == len({(event["source"], event["id"]) for event in raw})
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        await assert_facts_match_database(engine, records)
        # Each fact once, also a stray's, whose records the workers leave to the complete ledger:
        # the figures the rebuild reports are the records it added to the topic.
        assert len(records) == len({record.key for record in records})
        assert len(records) == result.entities + result.client_records
    finally:
        await engine.dispose()


async def test_a_rebuild_whose_facts_the_broker_refuses_fails_and_a_second_one_publishes_them(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker refuses the record batches of one facts partition (as aiokafka answers a batch
    that expired unsent): the rebuild must not report success with facts its tables hold but
    no consumer received. The producer's flush waits for the refusals without raising them."""
    settings = settings.model_copy(update={"rebuild_workers": 2})
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=43, per_month=4)
    await publish_scattered(broker.bootstrap_servers, settings.events_topic, deliver(raw, seed=6), validator)
    send_batch = AIOKafkaProducer.send_batch

    async def refusing(producer: AIOKafkaProducer, batch: Any, topic: str, *, partition: int) -> Any:
        if topic != settings.facts_topic or partition != 0:
            return await send_batch(producer, batch, topic, partition=partition)
        refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        refused.set_exception(RequestTimedOutError())
        return refused

    # Before the rebuild forks its workers: they publish with the refusing producer too.
    monkeypatch.setattr(AIOKafkaProducer, "send_batch", refusing)
    engine = make_engine(settings.caseload_database_url)
    try:
        with pytest.raises(RepublicationRefused, match="start de herbouw opnieuw"):
            await rebuild(settings)
        # Swapped in, as the message says: the projections are those of the topic.
        assert await assert_projections_match(engine, raw, MUNICIPALITIES, FIRST, MONTHS) > 20
        monkeypatch.undo()
        await rebuild(settings)
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        await assert_facts_match_database(engine, records)
    finally:
        await engine.dispose()


# Columns in which a rebuild differs from the live path by design: revisions continue above the
# live ones, so that facts consumers take the republished facts; `retracted_by` names the first
# retraction marked live, the earliest recorded in the rebuild.
_BY_DESIGN = {"revision", "retracted_by"}


async def every_row(engine: AsyncEngine) -> dict[str, set[tuple[Any, ...]]]:
    """Each live table's rows but for the columns above, with each fact's revision left out; an
    entity's fact as the store gives it (derived from its events where a continued fold kept
    none)."""
    rows: dict[str, set[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        keys = (await conn.execute(select(live.entities.c.entity_key))).scalars().all()
        facts = await CaseloadRepository(conn).current_facts(keys)
        for table in live.all:
            columns = [c for c in table.columns if c.name not in _BY_DESIGN]
            found = set()
            for row in await conn.execute(select(*columns)):
                values = dict(zip((c.name for c in columns), row, strict=True))
                if table is live.entities:
                    fact = orjson.loads(facts[values["entity_key"]])
                    fact.pop("revision")
                    values["fact"] = orjson.dumps(fact, option=orjson.OPT_SORT_KEYS)
                found.add(tuple(sorted(values.items())))
            rows[table.name] = found
    return rows


def without_revisions(facts: dict[str, Any]) -> dict[str, Any]:
    """Client records without their revision, entities' rows without theirs."""
    return {
        key: fact[1] if isinstance(fact, tuple) else {k: v for k, v in fact.items() if k != "revision"}
        for key, fact in facts.items()
    }


async def test_the_rebuild_stores_every_row_and_fact_the_live_path_stored(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
) -> None:
    """One shuffled, duplicated history with retractions of retractions (some before what they
    retract) through the live workers, then through two rebuild workers from the topic alone."""
    settings = settings.model_copy(update={"rebuild_workers": 2})
    raw = simulate(MUNICIPALITIES, FIRST, months=MONTHS, seed=47, per_month=4)
    aims = {e["id"]: e["data"].get("retracted_id") for e in raw}
    assert any(aims.get(aimed) for aimed in aims.values() if aimed)
    engine = make_engine(settings.caseload_database_url)
    try:
        async with running_worker(settings) as client:
            await publish(
                broker.bootstrap_servers, settings.events_topic, raw, deliver(raw, seed=8), validator
            )
            await wait_until_caught_up(client)
        live_rows = await every_row(engine)
        assert live_rows[live.client_facts.name]
        published = without_revisions(
            latest_facts(await read_all(broker.bootstrap_servers, settings.facts_topic))
        )
        await rebuild(settings)
        rebuilt = await every_row(engine)
        for table in live.all:
            assert rebuilt[table.name] == live_rows[table.name], table.name
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        await assert_facts_match_database(engine, records)
        # What a facts consumer holds, entity by entity and record by record, is what it held.
        assert without_revisions(latest_facts(records)) == published
    finally:
        await engine.dispose()
