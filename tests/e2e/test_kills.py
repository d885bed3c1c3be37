"""kill -9 of intake (its HTTP API and relay), a caseload worker and reporting, at seeded random
points while a case system posts its history and resends what was not acknowledged.

Afterwards every monthly table equals the reference computed from the raw events, and every
event offered is applied, dead-lettered or refused: nothing lost, nothing counted twice.
Replay a failure with STROOM_FAULT_SEED=<the printed seed>.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import PSEUDONYM_KEY
from sqlalchemy import func, select

from e2e import reference
from e2e.test_chain import ANALYST, Chain, case_system, deployment, months_of, shuffled
from stroom_caseload.tables import dead_letters, live
from stroom_cli.pipeline import wait_until_settled
from stroom_platform.broker import EmbeddedBroker, free_port
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator import simulate_history

START = date(2023, 1, 1)
YEARS = 2
KILLS = 20
NAMES = ("intake", "caseload", "reporting")
NDJSON = {"content-type": "application/x-ndjson"}


class Fleet:
    """The three services as processes of their own, each restarted at once after a kill."""

    def __init__(self, settings: dict[str, Any], log: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": settings["database_url"],
            "KAFKA_BOOTSTRAP_SERVERS": settings["kafka_bootstrap_servers"],
            "STROOM_EVENTS_TOPIC": settings["events_topic"],
            "STROOM_FACTS_TOPIC": settings["facts_topic"],
            "STROOM_DEAD_LETTER_TOPIC": settings["dead_letter_topic"],
            "STROOM_TOPIC_PARTITIONS": "4",
            "STROOM_PSEUDONYM_KEY": PSEUDONYM_KEY,
            # Small batches: many transactions, so that a kill lands in the middle of the work.
            "STROOM_BATCH_SIZE": "20",
            "STROOM_RELAY_BATCH_SIZE": "50",
        }
        self.groups = {name: settings[f"{name}_group"] for name in ("caseload", "reporting")}
        self.ports = {name: free_port() for name in NAMES}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.log = log
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        env = {**self.env, "STROOM_HTTP_PORT": str(self.ports[name])}
        if name in self.groups:
            env["STROOM_CONSUMER_GROUP"] = self.groups[name]
        if name == "caseload":
            command = [sys.executable, "-m", "stroom_caseload"]
        else:
            command = [str(Path(sys.executable).parent / "stroom"), "serve", name, "--no-migrate"]
        with self.log.open("ab") as out:
            self.processes[name] = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.start(name)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _ready(client: httpx.AsyncClient, url: str) -> None:
    async with asyncio.timeout(90):
        while True:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def _post_as_a_case_system(
    client: httpx.AsyncClient, url: str, events: list[dict[str, Any]], credential: dict[str, str]
) -> int:
    """Batch by batch, each resent until acknowledged, as a case system's outbox does; returns
    how many events were refused."""
    refused = 0
    for i in range(0, len(events), 30):
        body = b"\n".join(orjson.dumps(e) for e in events[i : i + 30])
        while True:
            try:
                answer = await client.post(f"{url}/v1/events", content=body, headers={**NDJSON, **credential})
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code < 500:
                assert answer.status_code == 202, answer.text
                refused += len(answer.json()["refused"])
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.4)
    return refused


async def _chaos(fleet: Fleet, client: httpx.AsyncClient, rng: random.Random, seed: int) -> None:
    for point in range(KILLS):
        victim = rng.choice(NAMES)
        await _ready(client, fleet.urls[victim])
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        print(f"seed {seed}: kill point {point + 1}: kill -9 {victim}")
        fleet.kill(victim)


@pytest.mark.long
async def test_kill_9_of_every_service_at_random_points_loses_and_doubles_nothing(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig, tmp_path: Path
) -> None:
    seed = int(os.environ.get("STROOM_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"fault seed {seed} (STROOM_FAULT_SEED={seed} replays it)")
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    raw = list(simulate_history(org, years=YEARS, seed=seed % 1000, start=START, scale=0.02, noise=True))
    services = await deployment(broker, postgres_server_url)
    settings = {
        **services[0].settings.model_dump(),
        "caseload_group": getattr(services[1].settings, "consumer_group"),  # noqa: B009
        "reporting_group": getattr(services[2].settings, "consumer_group"),  # noqa: B009
    }
    fleet = Fleet(settings, tmp_path / "services.log")
    engine = make_engine(services[1].database_url)
    for name in NAMES:
        fleet.start(name)
    try:
        async with httpx.AsyncClient(timeout=30, headers=ANALYST) as client:
            for name in NAMES:
                await _ready(client, fleet.urls[name])
            rng = random.Random(seed)
            refused, _ = await asyncio.gather(
                _post_as_a_case_system(client, fleet.urls["intake"], shuffled(raw), case_system(org)),
                _chaos(fleet, client, rng, seed),
            )
            for name in NAMES:
                await _ready(client, fleet.urls[name])
            async with asyncio.timeout(240):
                await wait_until_settled(client, fleet.urls)

            months = months_of(START, YEARS)
            expected = reference.monthly(raw, None, months)
            actual = await Chain(fleet.urls, client).monthly(months)
            assert {k for k, v in actual.items() if any(v)} == set(expected), f"seed {seed}"
            assert actual == {key: expected.get(key, (0, 0, 0, 0)) for key in actual}, f"seed {seed}"

            offered = {(e["source"], e["id"]) for e in raw}
            async with engine.connect() as conn:
                stored = select(live.events.c.source, live.events.c.event_id).where(
                    live.events.c.type.is_not(None)
                )
                applied = {(s, i) for s, i in (await conn.execute(stored)).all()}
                dead = (await conn.execute(select(func.count()).select_from(dead_letters))).scalar_one()
            assert applied <= offered
            assert len(offered) == len(applied) + dead + refused, f"seed {seed}"
    finally:
        fleet.stop()
        await engine.dispose()
