"""Conflicting retractions in batches that two workers of one group apply at the same time: two
retractions of one event, or a retraction and its retraction. Whatever the interleaving of their
transactions, the store ends as it does when they come one after the other, in either order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from copy import deepcopy
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import migrated_postgres_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.integration.expectations import assert_facts_match_database
from caseload.integration.test_rebuild import every_row
from caseload.integration.test_retraction_chains import example, history
from stroom_caseload.commands import migrate
from stroom_caseload.service import Outgoing, apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import Envelope
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

SOURCE = "gws/werksaam-westfriesland"
Batch = list[Envelope]
Interleaving = Callable[[AsyncEngine, Batch, Batch, list[Outgoing]], Coroutine[Any, Any, None]]


def rival(retraction: dict[str, Any]) -> dict[str, Any]:
    """Another retraction of what `retraction` retracts, recorded half a day later."""
    other = deepcopy(retraction)
    other["id"] = f"{retraction['id']}-rival"
    other["time"] = (datetime.fromisoformat(retraction["time"]) + timedelta(hours=12)).isoformat()
    return other


def scenario(
    name: str, event_type: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What is stored before, and the two batches that meet."""
    target, r1, r2, _ = history(event_type, SOURCE)
    opening = (
        [example("stroom.benefit.started.v1", SOURCE)] if event_type != "stroom.benefit.started.v1" else []
    )
    if name == "two retractions of one event":
        return [*opening, target], [r1], [rival(r1)]
    if name == "a retraction and its retraction":
        return [*opening, target], [r1], [r2]
    assert name == "a retraction and its retraction before their event"
    return opening, [r1], [r2, target]


async def one_after_the_other(
    engine: AsyncEngine, first: Batch, second: Batch, facts: list[Outgoing]
) -> None:
    for batch in (first, second):
        if not batch:
            continue
        async with engine.begin() as conn:
            facts += (await apply_events(conn, batch)).facts


async def reversed_order(engine: AsyncEngine, first: Batch, second: Batch, facts: list[Outgoing]) -> None:
    await one_after_the_other(engine, second, first, facts)


async def overlapping(engine: AsyncEngine, first: Batch, second: Batch, facts: list[Outgoing]) -> None:
    """`first` applied and not yet committed while `second` applies as far as it can (to its end,
    or to a lock `first` holds); then `first` commits, and `second` goes on and commits."""
    async with engine.connect() as other:
        pid = (await other.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await other.commit()

        async def apply_second() -> None:
            async with other.begin():
                facts.extend((await apply_events(other, second)).facts)

        async with engine.begin() as conn:
            facts += (await apply_events(conn, first)).facts
            applying = asyncio.ensure_future(apply_second())
            async with engine.connect() as watch:
                waiting = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")
                while not applying.done() and not (await watch.execute(waiting, {"pid": pid})).scalar():
                    await watch.commit()
                    await asyncio.sleep(0.01)
        await applying


async def overlapping_reversed(
    engine: AsyncEngine, first: Batch, second: Batch, facts: list[Outgoing]
) -> None:
    await overlapping(engine, second, first, facts)


def as_records(facts: list[Outgoing]) -> list[Any]:
    """As a facts consumer reads them, in the order their transactions committed."""
    return [SimpleNamespace(key=fact.key.encode(), value=fact.value) for fact in facts]


@pytest.mark.parametrize("event_type", ["stroom.client.assessed.v1", "stroom.benefit.started.v1"])
@pytest.mark.parametrize(
    "name",
    [
        "two retractions of one event",
        "a retraction and its retraction",
        "a retraction and its retraction before their event",
    ],
)
async def test_conflicting_retractions_applied_at_once_store_what_they_store_one_after_the_other(
    name: str,
    event_type: str,
    postgres_server_url: str,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    stored, first, second = scenario(name, event_type)

    def batch(events: list[dict[str, Any]]) -> Batch:
        return [validator.validate(deepcopy(event)) for event in events]

    outcomes = []
    interleavings: list[Interleaving] = [
        one_after_the_other,
        reversed_order,
        overlapping,
        overlapping_reversed,
    ]
    for interleaving in interleavings:
        url = await migrated_postgres_database(postgres_server_url, migrate)
        engine = make_engine(url)
        try:
            facts: list[Outgoing] = []
            await one_after_the_other(engine, batch(stored), [], facts)
            await interleaving(engine, batch(first), batch(second), facts)
            # The newest fact of each entity and record is what the store holds.
            await assert_facts_match_database(engine, as_records(facts))
            outcomes.append(await every_row(engine))
        finally:
            await engine.dispose()
    assert all(outcome == outcomes[0] for outcome in outcomes[1:])
