"""The chain as deployed: HTTP intake → Kafka → caseload → facts → reporting, on one PostgreSQL.

Noisy simulated histories (duplicates, late and out-of-order events, retractions, some of events
in closed months) go in through intake's HTTP API; the monthly reports and the caseload
projections that come out must equal references computed from the raw event file.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from caseload import reference as caseload_reference
from caseload.integration.expectations import assert_projections_match
from caseload.integration.test_workers import start_worker, stop
from conftest import PSEUDONYM_KEY, bearer, fresh_postgres_database
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from e2e import reference
from stroom_caseload import commands as caseload_commands
from stroom_caseload.app import create_app as caseload_app
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_cli.pipeline import wait_until_settled
from stroom_cli.runtime import Service
from stroom_cli.serve import migrate_services, start_services
from stroom_intake import commands as intake_commands
from stroom_intake.app import create_app as intake_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics, free_port
from stroom_platform.db import make_engine
from stroom_platform.organisations import Organisation, OrganisationsConfig, load_organisations
from stroom_reporting import commands as reporting_commands
from stroom_reporting.app import create_app as reporting_app
from stroom_reporting.settings import ReportingSettings
from stroom_simulator import simulate_history
from stroom_simulator.history import SOURCE_PREFIX

START = date(2023, 1, 1)
YEARS = 2


def months_of(start: date, years: int) -> list[date]:
    return [date(start.year + i // 12, i % 12 + 1, 1) for i in range(years * 12)]


MONTHS = months_of(START, YEARS)


# Reads every municipality's figures and the services' status.
ANALYST = bearer("reports:read", "caseload:read", "ops:read", subject="e2e-analyst")


def case_system(organisation: Organisation) -> dict[str, str]:
    """The simulated case system of an organisation: one source per municipality."""
    sources = [SOURCE_PREFIX + m.code for m in organisation.municipalities]
    return bearer("events:write", organisation=organisation.code, sources=sources, subject=organisation.code)


@dataclass
class Chain:
    urls: dict[str, str]
    client: httpx.AsyncClient
    organisations: OrganisationsConfig = field(default_factory=load_organisations)

    async def post(self, events: list[dict[str, Any]], batch: int = 500) -> None:
        """Each organisation's events with its own case system's token, in their order."""
        per_organisation: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            code = self.organisations.organisation_of[event["source"].removeprefix(SOURCE_PREFIX)].code
            per_organisation.setdefault(code, []).append(event)
        for code, own in per_organisation.items():
            organisation = self.organisations.organisation(code)
            assert organisation is not None
            headers = {"content-type": "application/x-ndjson", **case_system(organisation)}
            for i in range(0, len(own), batch):
                body = b"\n".join(orjson.dumps(e) for e in own[i : i + batch])
                response = await self.client.post(
                    f"{self.urls['intake']}/v1/events", content=body, headers=headers
                )
                assert response.status_code == 202, response.text

    async def monthly(
        self, months: list[date], as_of: datetime | None = None, organisation: str = "werksaam-westfriesland"
    ) -> dict[reference.Key, reference.Figures]:
        params = {
            "organisation": organisation,
            "from": f"{months[0]:%Y-%m}",
            "to": f"{months[-1]:%Y-%m}",
        }
        if as_of is not None:
            params["asOf"] = as_of.isoformat()
        response = await self.client.get(
            f"{self.urls['reporting']}/v1/reports/monthly", params=params, headers=ANALYST
        )
        assert response.status_code == 200, response.text
        return {
            (r["municipality"], r["regulation"], r["unit"], r["month"]): (
                r["begin"],
                r["inflow"],
                r["outflow"],
                r["end"],
            )
            for r in response.json()["tables"]["rows"]["rows"]
        }


async def deployment(
    broker: EmbeddedBroker, postgres_server_url: str, database_url: str | None = None
) -> list[Service]:
    """The three services as deployed: one database, one broker, their own topics and groups."""
    tag = secrets.token_hex(3)
    shared: dict[str, Any] = {
        "database_url": database_url or await fresh_postgres_database(postgres_server_url),
        "kafka_bootstrap_servers": broker.bootstrap_servers,
        "events_topic": f"events-{tag}",
        "facts_topic": f"facts-{tag}",
        "dead_letter_topic": f"dead-{tag}",
        "topic_partitions": 4,
    }
    await ensure_topics(
        broker.bootstrap_servers,
        [TopicSpec(shared[t], 4) for t in ("events_topic", "facts_topic", "dead_letter_topic")],
    )
    services = [
        Service(
            "intake",
            IntakeSettings.model_validate(
                shared | {"http_port": free_port(), "pseudonym_key": PSEUDONYM_KEY}
            ),
            intake_app,
            intake_commands,
        ),
        Service(
            "caseload",
            CaseloadSettings.model_validate(
                shared | {"http_port": free_port(), "consumer_group": f"caseload-{tag}"}
            ),
            caseload_app,
            caseload_commands,
        ),
        Service(
            "reporting",
            ReportingSettings.model_validate(
                shared | {"http_port": free_port(), "consumer_group": f"reporting-{tag}"}
            ),
            reporting_app,
            reporting_commands,
        ),
    ]
    await migrate_services(services)
    return services


@pytest.fixture
async def chain(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig
) -> AsyncIterator[Chain]:
    group = await start_services(await deployment(broker, postgres_server_url), "127.0.0.1")
    try:
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            yield Chain({e.name: e.url for e in group.endpoints}, client, organisations)
    finally:
        await group.stop()


def shuffled(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Case systems deliver in their own order; shuffle within windows for more disorder."""
    rng = random.Random(5)
    windows = [raw[i : i + 200] for i in range(0, len(raw), 200)]
    for window in windows:
        rng.shuffle(window)
    return [event for window in windows for event in window]


def _is_retraction_of_a_closed_month(event: dict[str, Any], by_id: dict[tuple[str, str], Any]) -> bool:
    if event["type"] != "stroom.event.retracted.v1":
        return False
    target = by_id.get((event["source"], event["data"]["retracted_id"]))
    return target is not None and target["time"][:7] < event["time"][:7]


@pytest.mark.long
async def test_reports_and_projections_equal_the_references(
    chain: Chain, organisations: OrganisationsConfig
) -> None:
    raw = [
        event
        for seed, org in enumerate(organisations.organisations, start=11)
        for event in simulate_history(org, years=YEARS, seed=seed, start=START, scale=0.06, noise=True)
    ]
    delivered = shuffled(raw)
    by_id = {(e["source"], e["id"]): e for e in raw}
    assert len(by_id) < len(raw), "the history has redeliveries"
    assert any(_is_retraction_of_a_closed_month(e, by_id) for e in raw)

    await chain.post(delivered)
    await wait_until_settled(chain.client, chain.urls)

    expected = reference.monthly(raw, None, MONTHS)
    # A board report published mid-way is reproduced exactly from the events known then.
    published = datetime(2024, 2, 10, 12, tzinfo=UTC)
    expected_then = reference.monthly(raw, published, MONTHS)
    for organisation in organisations.organisations:
        actual = await chain.monthly(MONTHS, organisation=organisation.code)
        assert {k for k, v in actual.items() if any(v)} == {
            k for k in expected if k[0] in {m.code for m in organisation.municipalities}
        }
        assert actual == {key: expected.get(key, (0, 0, 0, 0)) for key in actual}
        then = await chain.monthly(MONTHS, as_of=published, organisation=organisation.code)
        assert then == {key: expected_then.get(key, (0, 0, 0, 0)) for key in then}
        assert then != actual

    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    for code in [m.code for m in org.municipalities]:
        for day in (date(2023, 6, 30), date(2024, 12, 31)):
            response = await chain.client.get(
                f"{chain.urls['caseload']}/v1/caseload/municipalities/{code}",
                params={"date": day.isoformat()},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            by_regulation = {r["code"]: r["count"] for r in body["benefits"]["by_regulation"]}
            reference_benefits = caseload_reference.projection(raw, code, day)["benefits"]
            assert {k: v for k, v in by_regulation.items() if v} == reference_benefits, (code, day)


@pytest.mark.long
async def test_five_years_through_intake_with_two_workers_and_a_kill(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig, tmp_path: Path
) -> None:
    """Issue 3's proof: five years of WerkSaam posted through intake, two caseload workers in one
    group, one killed with SIGKILL mid-stream and restarted; every month-end projection and the
    monthly report equal the references."""
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    start, years = date(2020, 1, 1), 5
    raw = list(simulate_history(org, years=years, seed=3, start=start, scale=0.03, noise=True))
    delivered = shuffled(raw)
    intake, caseload, reporting = await deployment(broker, postgres_server_url)
    group = await start_services([intake, reporting], "127.0.0.1")
    ports = [free_port(), free_port()]
    log = tmp_path / "workers.log"
    workers = [start_worker(caseload.settings, port, log) for port in ports]
    engine = make_engine(caseload.database_url)
    try:
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            urls = {e.name: e.url for e in group.endpoints} | {"caseload": f"http://127.0.0.1:{ports[1]}"}
            chain = Chain(urls, client, organisations)
            half = len(delivered) // 2
            await chain.post(delivered[:half])
            async with asyncio.timeout(60):
                while await _applied(engine) < half // 4:  # noqa: ASYNC110 - polling another process
                    await asyncio.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            assert await _applied(engine) < len({(e["source"], e["id"]) for e in raw}), "mid-stream"
            await chain.post(delivered[half:])
            workers[0] = start_worker(caseload.settings, ports[0], log)
            await wait_until_settled(client, urls)

            assert (await client.get(f"{urls['caseload']}/status")).json()["dead_letters"] == 0
            municipalities = [m.code for m in org.municipalities]
            assert await assert_projections_match(engine, raw, municipalities, start, years * 12) > 300
            months = months_of(start, years)
            expected = reference.monthly(raw, None, months)
            actual = await chain.monthly(months)
            assert actual == {key: expected.get(key, (0, 0, 0, 0)) for key in actual}
            assert {k for k, v in actual.items() if any(v)} == set(expected)
    finally:
        for worker in workers:
            stop(worker)
        await engine.dispose()
        await group.stop()


async def _applied(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(live.events))).scalar_one())
