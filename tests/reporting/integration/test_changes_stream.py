"""Facts v2 delivered out of order: caseload's changes for a simulated history with late events,
reordered deliveries, erroneous events and their retractions (some before what they retract),
shuffled, duplicated and applied in random batches, end in exactly the rows and monthly counts of
the same changes applied in the order published."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

from conftest import migrated_postgres_database
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from reporting.integration.test_kpi_five_years import facts_of
from reporting.integration.test_kpi_materialised import ORGANISATION, ORGANISATIONS
from stroom_caseload.commands import migrate as caseload_migrate
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.facts import ClientRecord, Fact
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_reporting import tables as t
from stroom_reporting.commands import migrate
from stroom_reporting.repository import apply_facts
from stroom_simulator import simulate_history

TABLES = (t.entities, t.count_spells, t.placement_spells, t.applications, t.phase_spells, t.pending_changes)


async def load(url: str, batches: list[list[Fact]]) -> tuple[dict[str, Any], int]:
    """Every row of the entities' tables but their ids, and the monthly counts that are not zero;
    and how many changes had to wait for their base."""
    engine = make_engine(url)
    parked = 0
    try:
        for batch in batches:
            async with engine.begin() as conn:
                parked += (await apply_facts(conn, batch, datetime.now(UTC), ORGANISATIONS)).parked
        return await _rows(engine), parked
    finally:
        await engine.dispose()


async def _rows(engine: AsyncEngine) -> dict[str, Any]:
    found: dict[str, Any] = {}
    async with engine.connect() as conn:
        for table in TABLES:
            columns = [c for c in table.columns if c.name != "id"]
            found[table.name] = sorted(map(repr, (tuple(r) for r in await conn.execute(select(*columns)))))
        m = t.monthly.c
        monthly = await conn.execute(
            select(m.municipality, m.regulation, m.unit, m.month, m.inflow, m.outflow)
        )
        found[t.monthly.name] = sorted(tuple(r) for r in monthly if r.inflow or r.outflow)
    return found


async def test_shuffled_duplicated_changes_end_in_the_rows_of_the_ordered_ones(
    reporting_database: str, postgres_server_url: str, pseudonymiser: Pseudonymiser
) -> None:
    raw = list(
        simulate_history(ORGANISATION, years=2, seed=23, start=date(2021, 1, 1), scale=0.02, noise=True)
    )
    validator = EventValidator(pseudonymiser, ORGANISATIONS.municipality_codes)
    published = await facts_of(
        raw, validator, await migrated_postgres_database(postgres_server_url, caseload_migrate)
    )
    changes = [f for batch in published for f in batch if not isinstance(f, ClientRecord)]
    # The stream holds changes on top of earlier ones, not only full ones.
    assert sum(c.base is not None for c in changes) > len(changes) // 5
    in_order, waited = await load(await migrated_postgres_database(postgres_server_url, migrate), published)
    assert waited == 0
    rng = random.Random(5)
    facts = [f for batch in published for f in batch]
    facts += [rng.choice(facts) for _ in range(len(facts) // 5)]
    rng.shuffle(facts)
    batches = []
    while facts:
        size = rng.randrange(1, 60)
        batches.append(facts[:size])
        facts = facts[size:]
    shuffled, waited = await load(reporting_database, batches)
    assert waited > 10
    assert in_order[t.pending_changes.name] == []
    assert in_order[t.count_spells.name]
    assert shuffled == in_order
