"""A live worker continuing an entity's fold stores no full change; a redelivered event
republishes the full change the entity's events give at its stored revision, also when its batch
changes the entity again."""

from __future__ import annotations

import asyncio
from datetime import date
from types import SimpleNamespace

from alembic import command
from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.history import simulate
from caseload.integration.expectations import assert_facts_match_database
from caseload.integration.publishing import read_all
from stroom_caseload.commands import MIGRATIONS
from stroom_caseload.domain.plan import entity_write
from stroom_caseload.rebuild.republication import republish
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import Folds, apply_events
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED, Envelope
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import alembic_config, make_engine
from stroom_platform.organisations import OrganisationsConfig


def _in_order(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> list[Envelope]:
    """A history's events in the order they were recorded, without retractions: most batches
    of them continue a fold."""
    raw = simulate(["GM0405"], date(2022, 1, 1), months=8, seed=11)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    in_order = sorted((e for e in raw if e["type"] != RETRACTED), key=lambda e: str(e["time"]))
    return [validator.validate(e) for e in in_order]


async def _applied_by_a_worker(engine: AsyncEngine, events: list[Envelope]) -> dict[str, int]:
    """The events applied as a live worker does, in batches; gives the revision of each entity
    stored without its full change."""
    folds = Folds(CaseloadSettings().folded_entities)
    for start in range(0, len(events), 40):
        async with engine.begin() as conn:
            applied = await apply_events(conn, events[start : start + 40], folds=folds)
        folds.keep(applied.folded)
    en = live.entities
    async with engine.connect() as conn:
        query = select(en.c.entity_key, en.c.revision).where(en.c.fact.is_(None))
        revisions = dict((await conn.execute(query)).all())
    assert len(revisions) > 10
    return revisions


async def test_a_redelivery_republishes_the_full_change_a_continued_fold_did_not_keep(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    events = _in_order(pseudonymiser, organisations)
    engine = make_engine(caseload_database)
    en = live.entities
    try:
        revisions = await _applied_by_a_worker(engine, events)
        # One event of each such entity again, to a worker that has none of them in memory.
        again = {key: e for e in events if (key := entity_key(e)) in revisions}
        async with engine.begin() as conn:
            applied = await apply_events(
                conn, list(again.values()), folds=Folds(CaseloadSettings().folded_entities)
            )
        assert applied.new_by_type.total() == 0
        republished = {fact.key: fact.value for fact in applied.facts}
        async with engine.connect() as conn:
            stored, current = await CaseloadRepository(conn).fold_inputs(sorted(revisions))
        for key, revision in revisions.items():
            # Not stored again, nor its revision moved by the republication.
            assert current[key] == (revision, None), key
            assert republished[key] == entity_write(key, stored[key], (revision - 1, None)).fact, key
        # A downgrade stores each full change not kept as the events give it.
        config = alembic_config(MIGRATIONS.location, caseload_database)
        await asyncio.to_thread(command.downgrade, config, "v2facts01")
        query = select(en.c.entity_key, en.c.fact).where(en.c.entity_key.in_(revisions))
        async with engine.connect() as conn:
            facts = {key: fact.encode() for key, fact in await conn.execute(query)}
        assert facts == {key: republished[key] for key in revisions}
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await engine.dispose()


async def test_a_change_stored_but_never_published_is_healed_by_the_batch_that_brings_it_again(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    events = _in_order(pseudonymiser, organisations)
    third = len(events) // 3
    engine = make_engine(caseload_database)
    try:
        published = []
        folds = Folds(CaseloadSettings().folded_entities)
        for start in range(0, third, 40):
            async with engine.begin() as conn:
                applied = await apply_events(conn, events[start : min(start + 40, third)], folds=folds)
            folds.keep(applied.folded)
            published += applied.facts
        # Stored, then the worker dies before the broker has its facts.
        async with engine.begin() as conn:
            await apply_events(conn, events[third : third + 40], folds=folds)
        # Another worker gets that batch again with what followed it, in one transaction.
        async with engine.begin() as conn:
            applied = await apply_events(
                conn, events[third : 2 * third], folds=Folds(CaseloadSettings().folded_entities)
            )
        assert applied.duplicates == 40
        published += applied.facts
        # What a facts consumer holds from what reached the broker: no change waits for a base.
        records = [SimpleNamespace(key=fact.key.encode(), value=fact.value) for fact in published]
        await assert_facts_match_database(engine, records)
    finally:
        await engine.dispose()


async def test_the_rebuilds_republication_sends_the_full_changes_not_kept(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    # Live workers may continue folds between a rebuild's swap and its republication.
    engine = make_engine(settings.caseload_database_url)
    try:
        revisions = await _applied_by_a_worker(engine, _in_order(pseudonymiser, organisations))
        async with engine.connect() as conn:
            keys = (await conn.execute(select(live.entities.c.entity_key))).scalars().all()
            expected = await CaseloadRepository(conn).current_facts(keys)
        assert revisions.keys() < expected.keys()
        assert await republish(settings, true(), [], ()) == (len(expected), 0)
        records = await read_all(broker.bootstrap_servers, settings.facts_topic)
        assert {record.key.decode(): record.value for record in records} == expected
    finally:
        await engine.dispose()
