"""Soak (opt-in, STROOM_SOAK=1): a sustained stream of STROOM_SOAK_RATE events a second (20) for
STROOM_SOAK_MINUTES (15) with the caseload worker restarted every three minutes; memory (RSS per
process) and lag must stay flat. Prints the curve, one line per sample."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from e2e.test_chain import ANALYST, case_system, deployment
from e2e.test_kills import NAMES, NDJSON, Fleet, _ready
from stroom_cli.pipeline import wait_until_settled
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.organisations import OrganisationsConfig
from stroom_simulator import simulate_history

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(not os.environ.get("STROOM_SOAK"), reason="opt-in: STROOM_SOAK=1"),
]
MINUTES = float(os.environ.get("STROOM_SOAK_MINUTES", "15"))
RATE = float(os.environ.get("STROOM_SOAK_RATE", "20"))  # events a second
RESTART_EVERY = 180.0
SAMPLE_EVERY = 10.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_a_sustained_stream_keeps_memory_and_lag_flat(
    broker: EmbeddedBroker, postgres_server_url: str, organisations: OrganisationsConfig, tmp_path: Path
) -> None:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    duration = MINUTES * 60
    # Five years of WerkSaam at full scale are about 140,000 events.
    scale = max(0.01, RATE * duration / 140_000)
    raw = list(simulate_history(org, years=5, seed=1, start=date(2020, 1, 1), scale=scale, noise=True))
    credential = case_system(org)
    services = await deployment(broker, postgres_server_url)
    settings: dict[str, Any] = {
        **services[0].settings.model_dump(),
        "caseload_group": getattr(services[1].settings, "consumer_group"),  # noqa: B009
        "reporting_group": getattr(services[2].settings, "consumer_group"),  # noqa: B009
    }
    fleet = Fleet(settings, tmp_path / "services.log")
    # The services' own batch sizes, not the kill test's small ones.
    for small in ("STROOM_BATCH_SIZE", "STROOM_RELAY_BATCH_SIZE"):
        fleet.env.pop(small)
    for name in NAMES:
        fleet.start(name)
    per_second = len(raw) / duration
    samples: list[tuple[float, dict[str, float], int]] = []
    try:
        async with httpx.AsyncClient(timeout=30, headers=ANALYST) as client:
            for name in NAMES:
                await _ready(client, fleet.urls[name])
            started = time.monotonic()
            last_restart = started
            sent = 0
            next_sample = started
            while (now := time.monotonic()) - started < duration:
                due = min(len(raw), int((now - started) * per_second) + 1)
                if due > sent:
                    body = b"\n".join(orjson.dumps(e) for e in raw[sent:due])
                    answer = await client.post(
                        f"{fleet.urls['intake']}/v1/events", content=body, headers={**NDJSON, **credential}
                    )
                    assert answer.status_code == 202, answer.text
                    sent = due
                if now - last_restart > RESTART_EVERY:
                    fleet.processes["caseload"].send_signal(signal.SIGTERM)
                    fleet.processes["caseload"].wait()
                    fleet.start("caseload")
                    last_restart = now
                if now >= next_sample:
                    try:
                        lag = (await client.get(f"{fleet.urls['caseload']}/status")).json().get("total_lag")
                    except httpx.TransportError:
                        lag = None
                    memory = {name: rss_mb(p.pid) for name, p in fleet.processes.items()}
                    samples.append((now - started, memory, lag if lag is not None else -1))
                    print(
                        f"{now - started:6.0f} s  "
                        + "  ".join(f"{name} {mb:6.1f} MB" for name, mb in memory.items())
                        + f"  caseload lag {lag}"
                    )
                    next_sample += SAMPLE_EVERY
                await asyncio.sleep(0.5)
            await wait_until_settled(client, fleet.urls)
    finally:
        fleet.stop()
    third = len(samples) // 3
    for name in ("intake", "reporting"):
        settled = max(s[1][name] for s in samples[third : 2 * third])
        assert max(s[1][name] for s in samples[2 * third :]) < settled * 1.3 + 20, name
    # A backlog that comes and goes with the restarts, not one that grows: the last third's worst
    # is within twice the first third's, or a minute of the stream.
    lags = [s[2] for s in samples if s[2] >= 0]
    allowed = max(2 * max(lags[: len(lags) // 3 + 1]), per_second * 60)
    assert max(lags[2 * len(lags) // 3 :]) <= allowed
