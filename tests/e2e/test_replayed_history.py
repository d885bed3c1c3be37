"""A case system that sends its whole history again, in another order: nothing counted twice."""

from __future__ import annotations

import random
from datetime import date

import orjson
import pytest
from sqlalchemy import func, select

from e2e import reference
from e2e.test_chain import case_system, months_of
from e2e.test_retraction_chains import settled
from stroom_caseload.tables import live
from stroom_cli.pipeline import wait_until_settled
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator import simulate_history

START = date(2023, 1, 1)
YEARS = 2


@pytest.mark.long
async def test_a_whole_history_sent_again_changes_nothing(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig
) -> None:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    raw = list(simulate_history(org, years=YEARS, seed=41, start=START, scale=0.015, noise=True))
    months = months_of(START, YEARS)
    async with settled(broker, postgres_server_url, raw) as (chain, services):
        client = chain.client
        engine = make_engine(services[1].database_url)
        try:
            first = await chain.monthly(months)
            applied = await _ledger(engine)

            again = list(raw)
            random.Random(2).shuffle(again)
            accepted = 0
            for i in range(0, len(again), 500):
                body = b"\n".join(orjson.dumps(e) for e in again[i : i + 500])
                answer = await client.post(
                    f"{chain.urls['intake']}/v1/events",
                    content=body,
                    headers={"content-type": "application/x-ndjson", **case_system(org)},
                )
                assert answer.status_code == 202, answer.text
                accepted += answer.json()["accepted"]
            assert accepted == 0
            await wait_until_settled(client, chain.urls)

            assert await chain.monthly(months) == first
            assert await _ledger(engine) == applied == len({(e["source"], e["id"]) for e in raw})
            expected = reference.monthly(raw, None, months)
            assert first == {key: expected.get(key, (0, 0, 0, 0)) for key in first}
        finally:
            await engine.dispose()


async def _ledger(engine: object) -> int:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        stored = select(func.count()).where(live.events.c.type.is_not(None))
        return int((await conn.execute(stored)).scalar_one())
