"""The service end to end in-process: real broker, real PostgreSQL, the consumer in the FastAPI lifespan."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import secrets
import signal
import time
from datetime import date
from typing import Any, cast

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from conftest import bearer, migrated_postgres_database
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.history import deliver, simulate
from caseload.integration.expectations import assert_facts_match_database, assert_projections_match
from caseload.integration.publishing import publish, read_all, running_worker, send_raw, wait_until_caught_up
from stroom_caseload.commands import migrate
from stroom_caseload.consumer import Processor
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.runtime import applying_engine
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract import types
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.db import make_engine
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.consuming import Record
from stroom_platform.kafka.dead_letters import POSITION_HEADER, dead_letter
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator.history import simulate_history

WESTFRIESLAND = ["GM0498", "GM0388", "GM0405", "GM1598", "GM0420", "GM0432", "GM0532"]
FIRST = date(2021, 1, 1)
MONTHS = 24


def settings_for(broker: EmbeddedBroker, database_url: str, **extra: object) -> CaseloadSettings:
    tag = secrets.token_hex(3)
    values: dict[str, object] = {
        "kafka_bootstrap_servers": broker.bootstrap_servers,
        "database_url": database_url,
        "events_topic": f"ev-{tag}",
        "facts_topic": f"facts-{tag}",
        "dead_letter_topic": f"dl-{tag}",
        "consumer_group": f"caseload-{tag}",
        "topic_partitions": 4,
    }
    values.update(extra)
    return CaseloadSettings.model_validate(values)


async def prepared(broker: EmbeddedBroker, postgres_server_url: str) -> CaseloadSettings:
    """Settings for a caseload on an empty, migrated database with its own topics."""
    url = await migrated_postgres_database(postgres_server_url, migrate)
    settings = settings_for(broker, url)
    await create_topics(broker, settings)
    return settings


def processor_on(
    settings: CaseloadSettings,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    organisations: OrganisationsConfig,
    metrics: CaseloadMetrics,
) -> Processor:
    """A processor of batches handed to it, on the settings' topics."""
    return Processor(
        engine,
        producer,
        organisations.municipality_codes,
        settings.facts_topic,
        settings.dead_letter_topic,
        metrics,
        transaction_events=settings.transaction_events,
        folded_entities=settings.folded_entities,
    )


async def create_topics(broker: EmbeddedBroker, settings: CaseloadSettings) -> None:
    await ensure_topics(
        broker.bootstrap_servers,
        [
            TopicSpec(settings.events_topic, settings.topic_partitions),
            TopicSpec(settings.facts_topic, settings.topic_partitions),
            TopicSpec(settings.dead_letter_topic, 1),
        ],
    )


@pytest.mark.parametrize(
    ("years", "scale"), [(2, 0.05), pytest.param(5, 1.0, marks=pytest.mark.slow, id="five-years-full-scale")]
)
async def test_simulated_westfriesland_history_matches_the_reference(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    organisations: OrganisationsConfig,
    years: int,
    scale: float,
) -> None:
    """The project's simulator (its own noise: late, duplicated, retracted events)."""
    werksaam = organisations.organisation("werksaam-westfriesland")
    assert werksaam is not None
    raw = list(simulate_history(werksaam, years=years, seed=1, start=FIRST, noise=True, scale=scale))
    await publish(broker.bootstrap_servers, settings.events_topic, raw, raw, validator)
    async with running_worker(settings) as client:
        await wait_until_caught_up(client, within=60 * years * scale + 60)
    engine = make_engine(settings.caseload_database_url)
    try:
        assert await assert_projections_match(engine, raw, WESTFRIESLAND, FIRST, 12 * years) > 50
        await assert_facts_match_database(
            engine, await read_all(broker.bootstrap_servers, settings.facts_topic)
        )
    finally:
        await engine.dispose()


async def test_shuffled_history_through_the_service_matches_the_reference_and_facts_match_the_database(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = simulate(WESTFRIESLAND, FIRST, months=MONTHS, seed=11, per_month=2)
    await publish(broker.bootstrap_servers, settings.events_topic, raw, deliver(raw, seed=5), validator)
    # Poison: not JSON, and a raw BSN that intake should have pseudonymised.
    await send_raw(broker.bootstrap_servers, settings.events_topic, b"{not json", [("ce_id", b"x")])
    leaked = {**next(e for e in raw if "client" in e["data"]), "id": "leak-1"}
    headers = [(f"ce_{k}", str(leaked[k]).encode()) for k in ("specversion", "id", "source", "type", "time")]
    await send_raw(broker.bootstrap_servers, settings.events_topic, orjson.dumps(leaked["data"]), headers)
    # Let through by a contract that misses it, refused by PostgreSQL (a NUL in a key column):
    # found by halving the batch, dead-lettered, and the rest of its batch applied.
    monkeypatch.setattr(types, "_UNSTORABLE", re.compile("(?!)"))
    # What that contract lets through is not remembered as clean by the tests after this one.
    monkeypatch.setattr(types, "_CLEAN", set())
    started = next(e for e in raw if e["type"] == "stroom.benefit.started.v1")
    refused = {**started, "id": "nul-1", "data": {**started["data"], "benefit_ref": "B\x00"}}
    await send_raw(broker.bootstrap_servers, settings.events_topic, *encode(validator.validate(refused)))
    # An id reused for an event of another type: a conflict, dead-lettered; the stored event
    # stands. Whichever of the two the ledger stores first stands, so it goes under the stored
    # event's key, after it on its partition: on another partition it could be read first.
    assessed = next(e for e in raw if e["type"] == "stroom.client.assessed.v1")
    started_key = entity_key(validator.validate(started))
    assert started_key is not None
    await send_raw(
        broker.bootstrap_servers,
        settings.events_topic,
        *encode(validator.validate({**assessed, "id": started["id"]})),
        key=started_key.encode(),
    )

    reader = bearer("ops:read", "caseload:read", subject="caseload-reader")
    async with running_worker(settings, reader) as client:
        status = await wait_until_caught_up(client)
        assert status["dead_letters"] == 4
        assert status["database"] == {"reachable": True}
        assert sorted(status["assigned_partitions"]) == [0, 1, 2, 3]
        metrics = (await client.get("/metrics")).text
        assert 'stroom_caseload_events_applied_total{type="stroom.benefit.started.v1"}' in metrics
        assert "\nstroom_caseload_events_conflicting_total 1.0\n" in metrics
        # Records sent straight to the topic are stamped when sent: seconds ago, not hours.
        freshness = float(metrics.split("\nstroom_caseload_freshness_seconds ")[1].split()[0])
        assert 0 < freshness < 600
        ready = (await client.get("/readyz")).json()
        assert ready["checks"] == ["assignment", "broker", "consumer", "database"]
        summary = (
            await client.get("/v1/caseload/municipalities/GM0405", params={"date": "2022-06-30"})
        ).json()
        assert summary.get("municipality", {}).get("name") == "Hoorn", summary
        assert (await client.get("/v1/caseload/municipalities/GM9999")).status_code == 404

    engine = make_engine(settings.caseload_database_url)
    try:
        assert await assert_projections_match(engine, raw, WESTFRIESLAND, FIRST, MONTHS) > 50
        await assert_facts_match_database(
            engine, await read_all(broker.bootstrap_servers, settings.facts_topic)
        )
    finally:
        await engine.dispose()
    dead = await read_all(broker.bootstrap_servers, settings.dead_letter_topic)
    assert len(dead) == 4
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    conflicting = [r for r in dead if dict(r.headers)["dlq_reason"].startswith(b"conflict:")]
    assert [dict(r.headers)["ce_type"] for r in conflicting] == [b"stroom.client.assessed.v1"]
    assert [dict(r.headers)["ce_id"] for r in conflicting] == [started["id"].encode()]
    assert any("een BSN wordt alleen bij intake aangenomen" in reason for reason in reasons)
    assert any(reason.startswith("unappliable:") for reason in reasons)
    # After the code, what is wrong in Dutch.
    assert "conflict: (source, id) is al opgeslagen met andere inhoud" in reasons
    assert (
        "undecodable: de waarde is geen JSON:"
        " een naam moet tekst tussen dubbele aanhalingstekens zijn (regel 1, kolom 2)"
    ) in reasons
    assert any(reason.startswith("unappliable: de database weigert het event: ") for reason in reasons)
    bsn = leaked["data"]["client"]["bsn"]
    assert all(bsn not in reason for reason in reasons)
    assert all(bsn.encode() not in record.value for record in dead)


async def test_a_batch_applied_again_after_a_failed_commit_dead_letters_its_failing_event_once(
    postgres_server_url: str,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = await migrated_postgres_database(postgres_server_url, migrate)
    raw = simulate(WESTFRIESLAND, FIRST, months=2, seed=3, per_month=1)
    started = next(e for e in raw if e["type"] == "stroom.benefit.started.v1")
    monkeypatch.setattr(types, "_UNSTORABLE", re.compile("(?!)"))
    # What that contract lets through is not remembered as clean by the tests after this one.
    monkeypatch.setattr(types, "_CLEAN", set())
    refused = {**started, "id": "nul-1", "data": {**started["data"], "benefit_ref": "B\x00"}}
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    records = [
        Record("ev", 0, offset, None, *encode(validator.validate(event)))
        for offset, event in enumerate([started, refused])
    ]
    engine = make_engine(url)
    # The producer is not used before publishing, which this test does not reach.
    processor = unstarted_processor(organisations, engine)
    try:
        await processor.submit(records, lambda: None)
        batch = processor._to_apply.get_nowait()
        commit = processor._commit
        calls = 0

        async def commit_failing_once_after_isolating(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectionResetError("the database went away")
            return await commit(*args)

        monkeypatch.setattr(processor, "_commit", commit_failing_once_after_isolating)
        with pytest.raises(ConnectionResetError):
            await processor._apply(batch)
        facts, dead = await processor._apply(batch)
        assert [(record.offset, reason.split(":")[0]) for record, reason in dead] == [(1, "unappliable")]
        assert facts
        assert batch.poison == []
    finally:
        await processor.stop()
        await engine.dispose()


async def test_batches_queued_during_a_transaction_are_applied_in_one_and_done_in_order(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    organisations: OrganisationsConfig,
) -> None:
    """What waits while a worker is busy goes into its next transaction: a worker behind pays a
    transaction's own cost once for all of it. Each batch is still done, in the order it came, and
    the delay of its oldest event is measured at each stage of its way."""
    raw = simulate(WESTFRIESLAND, FIRST, months=3, seed=5, per_month=2, noise=False)
    # Accepted a minute ago, a millisecond apart.
    accepted = time.time() - 60
    records = [
        Record(
            settings.events_topic,
            0,
            offset,
            None,
            *encode(validator.validate(event)),
            accepted + offset / 1000,
        )
        for offset, event in enumerate(raw)
    ]
    half = len(records) // 2
    engine = make_engine(settings.caseload_database_url)
    producer = Broker(broker.bootstrap_servers).producer()
    await producer.start()
    metrics = CaseloadMetrics()
    processor = processor_on(settings, engine, producer, organisations, metrics)
    done: list[str] = []
    try:
        await processor.submit(records[:half], lambda: done.append("first"))
        await processor.submit(records[half:], lambda: done.append("second"))
        processor.start()
        async with asyncio.timeout(60):
            while len(done) < 2:  # noqa: ASYNC110 - the processor's tasks move it
                await asyncio.sleep(0.05)
        async with engine.connect() as conn:
            ledger = live.events
            stored = await conn.scalar(
                select(func.count()).select_from(ledger).where(ledger.c.wire.is_not(None))
            )
    finally:
        await processor.stop()
        await producer.stop()
        await engine.dispose()
    assert done == ["first", "second"]
    assert metrics.registry.get_sample_value("stroom_caseload_batch_apply_seconds_count") == 1
    delays = {
        stage: (
            metrics.registry.get_sample_value("stroom_caseload_batch_delay_seconds_count", {"stage": stage}),
            metrics.registry.get_sample_value("stroom_caseload_batch_delay_seconds_sum", {"stage": stage}),
        )
        for stage in ("decoded", "started", "applied", "published")
    }
    # Each submitted batch once decoded; the one transaction's batch, of the first's oldest event.
    assert [count for count, _ in delays.values()] == [2, 1, 1, 1]
    # Both batches' oldest events: a minute old, and as much less the second's as it was younger.
    assert 2 * 60 - half / 1000 < cast(float, delays["decoded"][1]) < 2 * 60 + 10
    started, applied, published = (
        cast(float, delays[stage][1]) for stage in ("started", "applied", "published")
    )
    assert 60 < started <= applied <= published < 60 + 70
    assert stored == len({(event["source"], event["id"]) for event in raw})
    # Each batch also when handed over, before its decoding; the transaction's facts when queued.
    fetched = [
        metrics.registry.get_sample_value(f"stroom_caseload_batch_delay_seconds_{what}", {"stage": "fetched"})
        for what in ("count", "sum")
    ]
    assert fetched[0] == 2
    assert 2 * 60 - half / 1000 < cast(float, fetched[1]) <= cast(float, delays["decoded"][1])
    queued = metrics.registry.get_sample_value("stroom_caseload_batch_delay_seconds_sum", {"stage": "queued"})
    assert applied <= cast(float, queued) <= published


async def test_transactions_go_on_while_the_broker_has_not_acknowledged_their_facts(
    postgres_server_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    """The database does not wait for the broker: with the broker stopped after a first batch,
    the batches after it are still applied (their facts wait with the producer, which has one
    request in flight and queues a partition's next batch only once the one before is sent), none
    is done while the broker is stopped, and every one is done, in order, once it answers."""
    own = EmbeddedBroker()  # of its own: it is stopped for a while
    await own.start()
    settings = await prepared(own, postgres_server_url)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    raw = simulate(WESTFRIESLAND, FIRST, months=6, seed=7, per_month=2, noise=False)
    records = [
        Record(settings.events_topic, 0, offset, None, *encode(validator.validate(event)))
        for offset, event in enumerate(raw)
    ]
    size = len(records) // 6
    chunks = [records[n * size : (n + 1) * size] for n in range(6)]
    engine = make_engine(settings.caseload_database_url)
    producer = Broker(own.bootstrap_servers).producer()
    await producer.start()
    processor = processor_on(settings, engine, producer, organisations, CaseloadMetrics())
    done: list[int] = []

    async def applied(count: int) -> None:
        """Until `count` events are in the ledger."""
        ledger = live.events
        async with asyncio.timeout(30):
            while True:
                async with engine.connect() as conn:
                    stored = await conn.scalar(
                        select(func.count()).select_from(ledger).where(ledger.c.wire.is_not(None))
                    )
                if stored == count:
                    return
                await asyncio.sleep(0.05)

    def distinct(upto: int) -> int:
        return len({(event["source"], event["id"]) for event in raw[: upto * size]})

    assert own._process is not None
    broker_pid = own._process.pid
    processor.start()
    try:
        await processor.submit(chunks[0], lambda: done.append(0))
        async with asyncio.timeout(30):
            while not done:  # noqa: ASYNC110 - the processor's tasks move it
                await asyncio.sleep(0.05)
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            # kill() returns before the broker has stopped: until the thread that takes the signal
            # is scheduled, its other threads still answer, a next batch's facts too on a loaded
            # machine. The broker is our child, so waitpid returns once every thread is stopped.
            _, status = await asyncio.to_thread(os.waitpid, broker_pid, os.WUNTRACED)
            assert os.WIFSTOPPED(status)
            for n in range(1, 6):
                await processor.submit(chunks[n], functools.partial(done.append, n))
                # Applied before the next comes: a transaction each.
                await applied(distinct(n + 1))
            assert done == [0]
        finally:
            os.kill(broker_pid, signal.SIGCONT)
        async with asyncio.timeout(60):
            while len(done) < 6:  # noqa: ASYNC110 - the processor's tasks move it
                await asyncio.sleep(0.05)
    finally:
        await processor.stop()
        await producer.stop()
        await engine.dispose()
        own.stop()
    assert done == list(range(6))


def _limits() -> dict[str, int]:
    """The processor's limits as the worker's settings give them."""
    settings = CaseloadSettings()
    return {"transaction_events": settings.transaction_events, "folded_entities": settings.folded_entities}


def unstarted_processor(
    organisations: OrganisationsConfig, engine: AsyncEngine | None = None, **options: int
) -> Processor:
    """A processor whose producer is not used: for what it does before publishing. Without an
    engine, for what it does before applying."""
    return Processor(
        cast(Any, engine),
        cast(AIOKafkaProducer, None),
        organisations.municipality_codes,
        "f",
        "d",
        CaseloadMetrics(),
        **(_limits() | options),
    )


async def test_fetching_pauses_only_once_a_transactions_worth_of_events_waits(
    organisations: OrganisationsConfig,
) -> None:
    """Batches decoded while a transaction runs queue up to `transaction_events`, all for the next
    transaction, and `submit` (so fetching) waits only beyond that; taking them frees the room."""
    processor = unstarted_processor(organisations, transaction_events=5)
    done: list[int] = []

    def batch(n: int, first: int) -> list[Record]:
        # Records without a value: poison, decoded without a database, and counted as waiting.
        return [Record("ev", 0, offset, None, None, []) for offset in range(first, first + n)]

    async with asyncio.timeout(5):
        await processor.submit(batch(3, 0), lambda: done.append(1))
        await processor.submit(batch(3, 3), lambda: done.append(2))
    third = asyncio.create_task(processor.submit(batch(3, 6), lambda: done.append(3)))
    await asyncio.sleep(0.05)
    assert not third.done()
    taken = processor._next(processor._to_apply.get_nowait())
    async with asyncio.timeout(5):
        await third
    assert [record.offset for record, _ in taken.poison] == list(range(6))
    taken.done()
    assert done == [1, 2]
    assert [record.offset for record, _ in processor._next(processor._to_apply.get_nowait()).poison] == [
        6,
        7,
        8,
    ]


def test_the_worker_keeps_the_folds_of_as_many_entities_as_it_is_told(
    organisations: OrganisationsConfig,
) -> None:
    """`folded_entities` bounds what the worker keeps of the entities it folded: the ones folded
    longest ago go first, so their next event has their stored events read again."""
    processor = unstarted_processor(organisations, folded_entities=2)
    kept = {key: cast(Any, object()) for key in ("benefit:a", "benefit:b", "benefit:c")}
    processor.folds.keep(kept)
    assert processor.folds.take("benefit:a") is None
    assert processor.folds.take("benefit:b") is kept["benefit:b"]
    assert processor.folds.take("benefit:c") is kept["benefit:c"]


async def test_a_worker_holds_its_database_connection_before_its_first_batch(
    broker: EmbeddedBroker, settings: CaseloadSettings, organisations: OrganisationsConfig
) -> None:
    """The worker connects before it joins its group, so its first batch waits for no connection
    to be set up; that batch runs on the connection it opened."""
    watcher = make_engine(settings.caseload_database_url)
    engine = applying_engine(settings)
    producer = Broker(broker.bootstrap_servers).producer()
    await producer.start()
    processor = processor_on(settings, engine, producer, organisations, CaseloadMetrics())

    async def backends() -> set[int]:
        async with watcher.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return {row.pid for row in rows}

    try:
        before = await backends()
        await processor.warm()
        opened = await backends() - before
        assert len(opened) == 1
        done: list[bool] = []
        processor.start()
        await processor.submit(
            [Record(settings.events_topic, 0, 0, None, None, [])], lambda: done.append(True)
        )
        async with asyncio.timeout(30):
            while not done:  # noqa: ASYNC110 - the processor's tasks move it
                await asyncio.sleep(0.05)
        assert await backends() - before == opened
    finally:
        await processor.stop()
        await producer.stop()
        await engine.dispose()
        await watcher.dispose()


async def test_a_record_without_key_or_value_is_dead_lettered(
    broker: EmbeddedBroker, settings: CaseloadSettings
) -> None:
    """A producer refuses a record with neither: its dead letter goes with an empty value, where
    a send that failed every time would hold up the batches after it."""
    producer = Broker(broker.bootstrap_servers).producer()
    await producer.start()
    try:
        poison = Record(settings.events_topic, 2, 7, None, None, [])
        sent = await dead_letter(producer, settings.dead_letter_topic, [(poison, "undecodable: geen waarde")])
        async with asyncio.timeout(30):
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
    [letter] = await read_all(broker.bootstrap_servers, settings.dead_letter_topic)
    assert (letter.key, letter.value) == (None, b"")
    assert dict(letter.headers)[POSITION_HEADER] == f"{settings.events_topic}/2/7".encode()
