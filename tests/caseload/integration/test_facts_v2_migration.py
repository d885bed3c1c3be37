"""The data migration to facts v2: an entity's fact stored as a v1 history (every version of its
state) becomes the full change that applying the same events stores now."""

from __future__ import annotations

import asyncio
from copy import deepcopy

import orjson
from alembic import command
from sqlalchemy import select, update

from caseload.integration.test_rekey_migration import RAW
from stroom_caseload.commands import MIGRATIONS, migrate
from stroom_caseload.domain.fold import history
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import apply_events
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.keys import kind_of_key
from stroom_contract.validation import EventValidator
from stroom_platform.db import alembic_config, make_engine
from stroom_platform.organisations import OrganisationsConfig


async def test_a_stored_history_becomes_the_full_change_of_its_rows(
    database_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    await migrate(database_url)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(database_url)
    en = live.entities
    try:
        for event in RAW:
            async with engine.begin() as conn:
                await apply_events(conn, [validator.validate(deepcopy(event))])
        async with engine.begin() as conn:
            expected = dict((await conn.execute(select(en.c.entity_key, en.c.fact))).all())
            assert len(expected) == 3
            stored, current = await CaseloadRepository(conn).fold_inputs(sorted(expected))
            for key, events in stored.items():
                # As facts v1 stored it: the entity's whole history, version by version.
                kind = kind_of_key(key)
                old = {
                    "kind": kind,
                    "entity": key,
                    "revision": current[key][0],
                    "versions": history(kind, events),
                }
                # A benefit's members are a `Chunked` sequence: written as the list it is.
                fact = orjson.dumps(old, default=list).decode()
                await conn.execute(update(en).where(en.c.entity_key == key).values(fact=fact))
        config = alembic_config(MIGRATIONS.location, database_url)
        await asyncio.to_thread(command.downgrade, config, "dlq02")
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            migrated = dict((await conn.execute(select(en.c.entity_key, en.c.fact))).all())
        assert {k: orjson.loads(v) for k, v in migrated.items()} == {
            k: orjson.loads(v) for k, v in expected.items()
        }
        assert all("versions" not in orjson.loads(v) for v in migrated.values())
    finally:
        await engine.dispose()
