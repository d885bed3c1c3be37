"""Retractions of retractions through intake, the broker, caseload and reporting: the monthly
figures, now and as known on earlier days, equal the reference from the raw events."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from e2e import reference
from e2e.test_chain import ANALYST, Chain, deployment, months_of, shuffled
from stroom_cli.pipeline import wait_until_settled
from stroom_cli.runtime import Service
from stroom_cli.serve import start_services
from stroom_contract.events import RETRACTED
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator import simulate_history

START = date(2023, 1, 1)
YEARS = 1


def with_chains(raw: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """`raw` with chains of one to three retractions (each retracting the one before, the first
    an event of any type), a day or more apart, each put anywhere in the delivery: a retraction
    of a retraction often arrives before the retraction it retracts, or before the event."""
    rng = random.Random(seed)
    events = list(raw)
    targets = rng.sample([e for e in raw if e["type"] != RETRACTED], len(raw) // 15)
    for n, target in enumerate(targets):
        aimed, recorded = target, datetime.fromisoformat(target["time"])
        for depth in range(rng.randint(1, 3)):
            recorded += timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 9))
            retraction = {
                "specversion": "1.0",
                "id": f"chain-{n}-{depth}",
                "source": target["source"],
                "type": RETRACTED,
                "time": recorded.isoformat(),
                "data": {"retracted_id": aimed["id"], "reason": "registratiefout"},
            }
            events.insert(rng.randrange(len(events) + 1), retraction)
            aimed = retraction
    return events


@asynccontextmanager
async def settled(
    broker: EmbeddedBroker, postgres_server_url: str, raw: list[dict[str, Any]]
) -> AsyncIterator[tuple[Chain, list[Service]]]:
    """The chain running, `raw` posted (`shuffled`, as case systems deliver) and settled; and its
    services."""
    services = await deployment(broker, postgres_server_url)
    group = await start_services(services, "127.0.0.1")
    try:
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            chain = Chain({e.name: e.url for e in group.endpoints}, client)
            await chain.post(shuffled(raw))
            await wait_until_settled(client, chain.urls)
            yield chain, services
    finally:
        await group.stop()


async def test_retracted_retractions_count_again_in_the_monthly_figures(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig
) -> None:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    raw = with_chains(list(simulate_history(org, years=YEARS, seed=45, start=START, scale=0.015)), seed=3)
    restored = {e["data"]["retracted_id"] for e in raw if e["id"].endswith("-1")}
    assert restored
    months = months_of(START, YEARS)
    async with settled(broker, postgres_server_url, raw) as (chain, _):
        moments = [None, *(datetime(2023, month, 15, 12, tzinfo=UTC) for month in (4, 8, 11))]
        for as_of in moments:
            figures = await chain.monthly(months, as_of)
            expected = reference.monthly(raw, as_of, months)
            assert figures == {key: expected.get(key, (0, 0, 0, 0)) for key in figures}, as_of
            assert {key for key, value in figures.items() if any(value)} == set(expected), as_of
