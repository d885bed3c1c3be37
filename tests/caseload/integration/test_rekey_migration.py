"""The data migration to collision-free keys: a ledger as the old keys left it (two sources' benefits
in one entity, a retraction of a retraction waiting under a retraction key for good) migrates to
exactly what applying the same events under the current keys stores."""

from __future__ import annotations

import asyncio
from copy import deepcopy
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.commands import MIGRATIONS, migrate
from stroom_caseload.service import apply_events
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED
from stroom_contract.keys import scoped_key
from stroom_contract.retractions import retraction_key
from stroom_contract.validation import EventValidator
from stroom_platform.db import alembic_config, make_engine
from stroom_platform.organisations import OrganisationsConfig

EXAMPLES = Path(__file__).parents[2] / "contract" / "examples"


def example(name: str, source: str, event_id: str, **data: Any) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads((EXAMPLES / f"{name}.json").read_bytes())
    return event | {"source": source, "id": event_id, "data": event["data"] | data}


def retraction(source: str, event_id: str, aimed: str, day: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": RETRACTED,
        "time": f"2024-09-{day:02d}T09:00:00+02:00",
        "data": {"retracted_id": aimed, "reason": "registratiefout"},
    }


RAW = [
    # Under the old keys both were `benefit:urn:x:GM0405:B1`: one entity.
    example("stroom.benefit.started.v1", "urn:x", "b-1", benefit_ref="GM0405:B1"),
    example("stroom.benefit.started.v1", "urn:x:GM0405", "b-2", benefit_ref="B1"),
    example("stroom.benefit.ended.v1", "urn:x", "b-3", benefit_ref="GM0405:B1"),
    # The ending is retracted, and that retraction retracted: the benefit ends after all.
    retraction("urn:x", "r-1", "b-3", 1),
    retraction("urn:x", "r-2", "r-1", 2),
    example("stroom.placement.started.v1", "gws/p", "p-1", placement_ref="P%1"),
]


async def every_row(engine: AsyncEngine) -> dict[str, set[tuple[Any, ...]]]:
    rows = {}
    async with engine.connect() as conn:
        for table in live.all:
            columns = [c for c in table.columns if c.name != "revision"]
            found = set()
            for row in await conn.execute(select(*columns)):
                values = dict(zip((c.name for c in columns), row, strict=True))
                if "fact" in values:
                    values["fact"] = orjson.dumps(
                        {k: v for k, v in orjson.loads(values["fact"]).items() if k != "revision"}
                    )
                found.add(tuple(sorted(values.items())))
            rows[table.name] = found
    return rows


async def test_old_keys_migrate_to_what_the_current_keys_store(
    database_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    await migrate(database_url)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(database_url)
    try:
        # r-2 first, as when the old keys left it under r-1's retraction key.
        for event in [RAW[4], *RAW[:4], RAW[5]]:
            async with engine.begin() as conn:
                await apply_events(conn, [validator.validate(deepcopy(event))])
        expected = await every_row(engine)
        old = "benefit:urn:x:GM0405:B1"
        assert {scoped_key("benefit", "urn:x", "GM0405:B1"), scoped_key("placement", "gws/p", "P%1")} <= {
            dict(row)["entity_key"] for row in expected[live.entities.name]
        }
        ev, en = live.events, live.entities
        async with engine.begin() as conn:
            # As the old keys stored it: one entity for both benefits, its state under that key.
            await conn.execute(update(ev).where(ev.c.entity_key.like("benefit:%")).values(entity_key=old))
            await conn.execute(
                update(ev).where(ev.c.event_id == "r-2").values(entity_key=retraction_key("urn:x", "r-1"))
            )
            await conn.execute(
                update(ev).where(ev.c.event_id == "p-1").values(entity_key="placement:gws/p:P%1")
            )
            for table in (*live.states, en):
                await conn.execute(table.delete().where(table.c.entity_key.like("benefit:%")))
            await conn.execute(
                update(en).where(en.c.entity_key.like("placement:%")).values(entity_key="placement:gws/p:P%1")
            )
            for table in live.states:
                await conn.execute(
                    update(table)
                    .where(table.c.entity_key.like("placement:%"))
                    .values(entity_key="placement:gws/p:P%1")
                )
        assert await every_row(engine) != expected

        config = alembic_config(MIGRATIONS.location, database_url)
        await asyncio.to_thread(command.downgrade, config, "audit01")
        await asyncio.to_thread(command.upgrade, config, "head")

        assert await every_row(engine) == expected
        async with engine.connect() as conn:
            revisions = dict((await conn.execute(select(en.c.entity_key, en.c.revision))).all())
        # Folded again: a revision above the one its old key had.
        assert revisions[scoped_key("placement", "gws/p", "P%1")] == 2
    finally:
        await engine.dispose()
