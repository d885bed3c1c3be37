"""PostgreSQL stopped for 30 seconds while the chain processes, then started again.

The database is a server of the test's own. While it is away every service says it is not
ready and answers what is asked with a 503; afterwards they recover by themselves, and the
reports equal the reference.
"""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from e2e import reference
from e2e.private_postgres import PrivatePostgres
from e2e.test_chain import ANALYST, Chain, deployment, months_of, shuffled
from stroom_caseload.tables import live
from stroom_cli.pipeline import wait_until_settled
from stroom_cli.serve import start_services
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator import simulate_history

START = date(2023, 1, 1)
YEARS = 2
OUTAGE_SECONDS = 30


@pytest.mark.long
async def test_a_database_away_for_30_seconds_loses_nothing(
    broker: EmbeddedBroker, organisations: OrganisationsConfig
) -> None:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    raw = list(simulate_history(org, years=YEARS, seed=31, start=START, scale=0.015, noise=True))
    delivered = shuffled(raw)
    half = len(delivered) // 2
    server = PrivatePostgres()
    server.init()
    server.start()
    group = None
    try:
        services = await deployment(broker, server.url, database_url=server.url)
        engine = make_engine(services[1].database_url)
        group = await start_services(services, "127.0.0.1")
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            chain = Chain({e.name: e.url for e in group.endpoints}, client)
            await chain.post(delivered[:half])
            # Stopped while the consumers are still at work on what was just accepted.
            await asyncio.to_thread(server.stop)
            for url in chain.urls.values():
                assert (await client.get(f"{url}/readyz")).status_code == 503
            assert (await client.get(f"{chain.urls['reporting']}/status")).status_code == 200
            # What is asked meanwhile is to be asked again: a 503 problem, not a 500.
            for asked in (
                f"{chain.urls['reporting']}/v1/reports/monthly?organisation={org.code}&from=2023-01&to=2023-12",
                f"{chain.urls['caseload']}/v1/caseload/municipalities/GM0405",
            ):
                away = await client.get(asked)
                assert away.status_code == 503, away.text
                assert away.headers["content-type"] == "application/problem+json"
                assert int(away.headers["retry-after"]) > 0
            await asyncio.sleep(OUTAGE_SECONDS)
            for url in chain.urls.values():
                assert (await client.get(f"{url}/readyz")).status_code == 503
            await asyncio.to_thread(server.start)

            await chain.post(delivered[half:])
            async with asyncio.timeout(180):
                await wait_until_settled(client, chain.urls)
            for url in chain.urls.values():
                assert (await client.get(f"{url}/readyz")).status_code == 200
            months = months_of(START, YEARS)
            expected = reference.monthly(raw, None, months)
            actual = await chain.monthly(months, organisation=org.code)
            assert {k for k, v in actual.items() if any(v)} == set(expected)
            assert actual == {key: expected.get(key, (0, 0, 0, 0)) for key in actual}
            async with engine.connect() as conn:
                stored = select(live.events.c.source, live.events.c.event_id).where(
                    live.events.c.type.is_not(None)
                )
                applied = {(s, i) for s, i in (await conn.execute(stored)).all()}
            assert applied == {(e["source"], e["id"]) for e in raw}
            await engine.dispose()
    finally:
        if group is not None:
            await group.stop()
        server.stop()
        server.remove()
