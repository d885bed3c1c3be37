"""A record that reuses a stored event's (source, id) with other content is a conflict: it is
dead-lettered with its reason and counted, and the stored event stands, live and rebuilt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import bearer, migrated_database, migrated_postgres_database
from sqlalchemy import select

from caseload.history import simulate
from caseload.integration.expectations import assert_facts_match_database, assert_projections_match
from caseload.integration.publishing import publish, read_all, running_worker, send_raw, wait_until_caught_up
from caseload.integration.test_consumer import FIRST, WESTFRIESLAND, create_topics, settings_for
from stroom_caseload.commands import migrate
from stroom_caseload.rebuild.run import rebuild
from stroom_caseload.service import Applied, apply_events
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

MONTHS = 6


@pytest.mark.parametrize("engine_name", ["postgresql", "sqlite"])
async def test_a_conflicting_record_is_dead_lettered_and_the_stored_event_stands(
    broker: EmbeddedBroker,
    postgres_server_url: str,
    tmp_path: Path,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
    engine_name: str,
) -> None:
    url = await migrated_database(engine_name, tmp_path, postgres_server_url, migrate)
    settings = settings_for(broker, url)
    await create_topics(broker, settings)
    bootstrap = broker.bootstrap_servers
    raw = simulate(WESTFRIESLAND, FIRST, months=MONTHS, seed=23, per_month=2)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    await publish(bootstrap, settings.events_topic, raw, raw, validator)
    started = next(e for e in raw if e["type"] == "stroom.benefit.started.v1")
    key = entity_key(validator.validate(started))
    assert key is not None
    changed = {**started, "data": {**started["data"], "benefit_ref": "B-other"}}
    # After the stored event on its partition: an identical redelivery, then the reuse.
    for event in (started, changed):
        await send_raw(bootstrap, settings.events_topic, *encode(validator.validate(event)), key=key.encode())

    reader = bearer("ops:read", subject="caseload-reader")
    async with running_worker(settings, reader) as client:
        status = await wait_until_caught_up(client)
        assert status["dead_letters"] == 1
        metrics = (await client.get("/metrics")).text
        assert "\nstroom_caseload_events_conflicting_total 1.0\n" in metrics
        duplicates = float(metrics.split("\nstroom_caseload_events_duplicate_total ")[1].split()[0])
        assert duplicates >= 1
    dead = await read_all(bootstrap, settings.dead_letter_topic)
    assert [dict(r.headers)["dlq_reason"].decode().split(":")[0] for r in dead] == ["conflict"]
    assert [dict(r.headers)["dlq_reason"].decode() for r in dead] == [
        "conflict: (source, id) is al opgeslagen met andere inhoud"
    ]
    assert [orjson.loads(r.value)["benefit_ref"] for r in dead] == ["B-other"]

    engine = make_engine(url)
    try:
        for _ in range(2):
            assert await _stored_ref(engine, started) == started["data"]["benefit_ref"]
            assert await assert_projections_match(engine, raw, WESTFRIESLAND, FIRST, MONTHS) > 5
            await assert_facts_match_database(engine, await read_all(bootstrap, settings.facts_topic))
            # The rebuild reads the partition in order: the first version stands there too.
            await rebuild(settings)
    finally:
        await engine.dispose()


async def _stored_ref(engine: Any, event: dict[str, Any]) -> str:
    ev = live.events
    async with engine.connect() as conn:
        wire = await conn.scalar(
            select(ev.c.wire).where(ev.c.source == event["source"], ev.c.event_id == event["id"])
        )
    ref: str = orjson.loads(wire)["data"]["benefit_ref"]
    return ref


async def test_a_conflict_stored_first_by_another_worker_meanwhile_is_found(
    postgres_server_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    url = await migrated_postgres_database(postgres_server_url, migrate)
    raw = simulate(WESTFRIESLAND, FIRST, months=2, seed=29, per_month=1)
    started = next(e for e in raw if e["type"] == "stroom.benefit.started.v1")
    changed = {**started, "data": {**started["data"], "benefit_ref": "B-other"}}
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(url)

    async def apply_second() -> Applied:
        async with engine.begin() as conn:
            return await apply_events(conn, [validator.validate(changed), validator.validate(started)])

    try:
        async with engine.connect() as conn, conn.begin():
            await apply_events(conn, [validator.validate(started)])
            # The other worker read nothing stored yet, and now waits for this insert.
            second = asyncio.create_task(apply_second())
            await asyncio.sleep(1.0)
            assert not second.done()
        applied = await second
        assert applied.conflicts == (0,)
        assert applied.duplicates == 1
        assert await _stored_ref(engine, started) == started["data"]["benefit_ref"]
    finally:
        await engine.dispose()


async def test_a_rebuild_folds_the_first_of_a_conflicting_pair_read_in_one_batch(
    broker: EmbeddedBroker,
    postgres_server_url: str,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    url = await migrated_postgres_database(postgres_server_url, migrate)
    settings = settings_for(broker, url)
    await create_topics(broker, settings)
    bootstrap = broker.bootstrap_servers
    raw = simulate(WESTFRIESLAND, FIRST, months=2, seed=23, per_month=2)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    await publish(bootstrap, settings.events_topic, raw, raw, validator)
    assigned = next(e for e in raw if e["type"] == "stroom.client.coach_assigned.v1")
    key = entity_key(validator.validate(assigned))
    assert key is not None
    # The reuse follows the stored event on its partition, within the replay's first batch.
    changed = {**assigned, "data": {**assigned["data"], "coach_ref": "K-other"}}
    await send_raw(bootstrap, settings.events_topic, *encode(validator.validate(changed)), key=key.encode())

    await rebuild(settings)

    engine = make_engine(url)
    try:
        cf = live.client_facts
        async with engine.connect() as conn:
            coach = await conn.scalar(
                select(cf.c.coach_ref).where(cf.c.record_id == f"{assigned['source']}|{assigned['id']}")
            )
    finally:
        await engine.dispose()
    assert coach == assigned["data"]["coach_ref"]
