"""Intake throughput: simulated events posted over HTTP into the PostgreSQL outbox and on to Kafka.

`.venv/bin/python -m bench.intake [--events N] [--batch N] [--connections N] [--workers N]
[--relay app|process]`: the intake app runs under uvicorn in its own processes, the relay in one of
them or in a process of its own; this process posts `cloudevents-batch+json` batches on a few
connections. Reports events/s accepted durably (every 202 is a commit) and published end to end
(outbox empty), beside raw aiokafka produce of the same records measured in the same run, and the
CPU time each part spent per event (steadier than rates on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import exists, select

from bench.credentials import case_system, embedded_environment
from bench.postgres import ADMIN_DSN, DatabaseCpu, engine_url
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode_wire
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_intake.app import create_app
from stroom_intake.commands import migrate
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics, free_port
from stroom_platform.db import make_engine
from stroom_platform.kafka.clients import Broker
from stroom_platform.organisations import load_organisations
from stroom_simulator import simulate_history

KEY = secrets.token_hex(16)
PARTITIONS = 6
ORGANISATION = load_organisations().organisations[0]


def app_from_env() -> Any:
    """The uvicorn factory of the server process."""
    return create_app(IntakeSettings())


def simulated(count: int) -> list[dict[str, Any]]:
    organisation = ORGANISATION
    for scale in (1.0, 4.0, 16.0):
        history = list(
            itertools.islice(simulate_history(organisation, years=10, noise=False, scale=scale), count)
        )
        if len(history) == count:
            return history
    raise SystemExit(f"de simulator gaf minder dan {count} events")


async def raw_produce(bootstrap: str, history: list[dict[str, Any]]) -> float:
    """Events/s of aiokafka alone, for the same (pseudonymised, encoded) records."""
    validator = EventValidator(Pseudonymiser(KEY.encode()), load_organisations().municipality_codes)
    records = []
    for raw in history:
        event = validator.validate(raw)
        value, headers = encode_wire(event.to_wire())
        key = entity_key(event) or f"retraction:{event.source}"
        records.append((key.encode(), value, headers))
    topic = f"bench-raw-{secrets.token_hex(3)}"
    await ensure_topics(bootstrap, [TopicSpec(topic, PARTITIONS)])
    producer = Broker(bootstrap).producer(
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value, key=key, headers=headers) for key, value, headers in records
        ]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def _cpu_seconds() -> dict[int, tuple[int, float, str]]:
    """(parent pid, user + system CPU seconds, command line) of every process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, command)
    return found


def _descendants(processes: dict[int, tuple[int, float, str]], root: int) -> set[int]:
    tree = {root}
    grew = True
    while grew:
        grown = tree | {pid for pid, (parent, _, _) in processes.items() if parent in tree}
        grew, tree = grown != tree, grown
    return tree


class CpuMeter:
    """CPU seconds per part of the set-up between `start` and `stop` (Linux; empty elsewhere)."""

    def __init__(self, parts: dict[str, Any]) -> None:
        # A part is a root pid (with its children) or a substring of the command line.
        self._parts = parts
        self._first: dict[str, dict[int, float]] = {}
        self._client = 0.0
        self.spent: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        if not os.path.isdir("/proc/self"):
            return {}
        processes = _cpu_seconds()
        sample: dict[str, dict[int, float]] = {}
        for name, part in self._parts.items():
            if isinstance(part, int):
                pids = _descendants(processes, part)
            else:
                pids = {pid for pid, (_, _, command) in processes.items() if part in command}
            sample[name] = {pid: processes[pid][1] for pid in pids if pid in processes}
        return sample

    def start(self) -> None:
        self._first = self._sample()
        self._client = time.process_time()

    def stop(self) -> None:
        for name, now in self._sample().items():
            before = self._first.get(name, {})
            self.spent[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
        # Its children are the server and the broker: only this process itself.
        self.spent["deze client"] = time.process_time() - self._client


async def post_all(port: int, bodies: list[bytes], connections: int, token: dict[str, str]) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"content-type": "application/cloudevents-batch+json", **token}
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:

        async def worker() -> None:
            while not queue.empty():
                response = await client.post("/v1/events", content=queue.get_nowait(), headers=headers)
                if response.status_code != 202 or response.json()["refused"]:
                    raise SystemExit(f"intake antwoordde {response.status_code}: {response.text[:500]}")

        await asyncio.gather(*(worker() for _ in range(connections)))


async def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            if server.poll() is not None:
                raise SystemExit("de intakeserver stopte")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("de intakeserver werd niet gereed")


def _start(module: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", *module], env=env)


async def main(count: int, batch: int, connections: int, workers: int, relay: str) -> None:
    print(f"{count} events simuleren ...", flush=True)
    history = simulated(count)
    bodies = [orjson.dumps(history[i : i + batch]) for i in range(0, count, batch)]
    name = f"stroom_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = engine_url(name)
    await migrate(url)
    engine = make_engine(url)
    broker = EmbeddedBroker()
    server: subprocess.Popen[bytes] | None = None
    relay_process: subprocess.Popen[bytes] | None = None
    try:
        await broker.start()
        raw_rate = await raw_produce(broker.bootstrap_servers, history)
        port = free_port()
        env = embedded_environment() | {
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "STROOM_PSEUDONYM_KEY": KEY,
            "STROOM_EVENTS_TOPIC": f"bench-intake-{secrets.token_hex(3)}",
            "STROOM_TOPIC_PARTITIONS": str(PARTITIONS),
            "STROOM_LOG_LEVEL": "WARNING",
            "STROOM_RELAY_IN_APP": str(relay == "app").lower(),
        }
        if relay == "process":
            relay_process = _start(["stroom_intake.outbox"], env)
        command = ["uvicorn", "--factory", "bench.intake:app_from_env", "--port", str(port)]
        quiet = ["--log-level", "warning", "--no-access-log", "--workers", str(workers)]
        server = _start([*command, *quiet], env)
        await wait_ready(port, server)
        parts: dict[str, Any] = {"intakeserver": server.pid}
        if relay_process is not None:
            parts["relayproces"] = relay_process.pid
        parts |= {"broker": broker.bootstrap_servers}
        meter = CpuMeter(parts)
        # Every 100 ms: intake's statements do not go parallel, and a watch every millisecond would
        # take from the cores whose rate this measures.
        database = DatabaseCpu(name, interval=0.1)
        await database.start()
        meter.start()
        started = time.perf_counter()
        await post_all(port, bodies, connections, case_system(Path(env["STROOM_DATA_DIR"]), ORGANISATION))
        accepted = time.perf_counter() - started
        while True:
            async with engine.connect() as conn:
                # EXISTS stops at the first row; counting would read the whole backlog each time.
                pending = await conn.scalar(select(exists().where(events.c.published_at.is_(None))))
            if not pending:
                break
            await asyncio.sleep(0.05)
        published = time.perf_counter() - started
        meter.stop()
        meter.spent["PostgreSQL"] = (await database.seconds())[name]
        await database.stop()
    finally:
        for process in (server, relay_process):
            if process is not None:
                process.terminate()
                process.wait()
        broker.stop()
        await engine.dispose()
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    e2e_rate = count / published
    where = "in een eigen proces" if relay == "process" else "in een serverproces"
    print(f"events: {count} in batches van {batch}, {connections} verbindingen, {workers} serverprocessen,")
    print(f"relay {where}")
    print(f"{'duurzaam aangenomen (HTTP -> PG):':42s}{count / accepted:10.0f} events/s")
    print(f"{'gepubliceerd tot in Kafka (-> Kafka):':42s}{e2e_rate:10.0f} events/s")
    print(f"{'kaal produceren met aiokafka (basislijn):':42s}{raw_rate:10.0f} events/s")
    print(f"{'tot in Kafka / kaal produceren:':42s}{e2e_rate / raw_rate:10.1%}")
    for part, seconds in meter.spent.items():
        print(f"{'CPU ' + part + ':':42s}{seconds / count * 1e6:10.1f} µs/event")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake",
        description="Doorvoer van intake: gesimuleerde events over HTTP in de PostgreSQL-outbox en "
        "door naar Kafka, naast kaal produceren met aiokafka in dezelfde run, en de CPU per event "
        "van elk deel.",
    )
    parser.add_argument("--events", type=int, default=200_000, help="events in totaal")
    parser.add_argument("--batch", type=int, default=2000, help="events per HTTP-verzoek")
    parser.add_argument("--connections", type=int, default=3, help="HTTP-verbindingen tegelijk")
    # Server processes; with `--relay app` the relay runs in whichever holds the advisory lock.
    parser.add_argument("--workers", type=int, default=2, help="processen van de intakeserver")
    parser.add_argument(
        "--relay",
        choices=("app", "process"),
        default="process",
        help="de relay in een van de serverprocessen (app) of in een eigen proces (process)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch, args.connections, args.workers, args.relay))
