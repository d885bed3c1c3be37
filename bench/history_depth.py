"""Live CPU per event against the length of an entity's history.

For each depth N, `--entities` benefits each get a history of N events (started, then members
joining and leaving), which a caseload worker of its own applies, on a database of its own. Then
`--rounds` rounds follow; in each, every depth in turn (the first one moving on every round, so
that a drift of the machine falls on all of them alike) gets one more event per benefit, waited
for until every benefit's fact is out, so every batch a worker takes holds at most one new event
per benefit. A depth's cost in a round is its worker's CPU over that round, less what the worker
spends polling when idle, per event (and its database backends' CPU beside it); the median over
the rounds is the live path's cost of one event on an entity with N events behind it, and its
ratio to the shallowest depth's shows whether that cost grows with history.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.postgres import DatabaseCpu, drop_databases
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import TopicSpec, ensure_topics, free_port
from stroom_platform.organisations import load_organisations
from stroom_simulator.bsns import pseudonym

# One partition: a round's events reach the worker as one batch at every depth. With six, the
# embedded broker, answering fetches on a topic with a long history more slowly, split the rounds
# of the deepest into half as many batches again (33 against 22 over 20 rounds at 1,000 and 10
# events), and charged each batch's own cost to the history.
PARTITIONS = 1
START = date(2020, 1, 1)
IDLE_SECONDS = 5
KEY = b"bench-pseudonym-key-0123456789abcdef"
_LIBC = ctypes.CDLL(None, use_errno=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (also those ended), to the nanosecond:
    its CPU clock. /proc's figures count 10 ms clock ticks, a tenth of what a round of 50 events
    costs. OSError when the process has gone."""
    clock = ctypes.c_int()
    failed = _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock))
    if failed:
        raise OSError(failed, os.strerror(failed))
    return time.clock_gettime(clock.value)


def benefit_events(source: str, benefit: str, first: int, count: int) -> Iterator[dict[str, Any]]:
    """Events `first` .. `first + count - 1` of one benefit's history: its start, then a partner
    joining on odd and leaving on even steps, a day apart."""
    applicant = pseudonym(f"{benefit}-applicant")
    partner = pseudonym(f"{benefit}-partner")
    for step in range(first, first + count):
        day = START + timedelta(days=step)
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"{benefit}-{step}",
            "source": source,
            "time": f"{day + timedelta(days=1)}T09:00:00+01:00",
        }
        if step == 0:
            envelope["type"] = "stroom.benefit.started.v1"
            envelope["data"] = {
                "benefit_ref": benefit,
                "municipality": "GM0405",
                "regulation": "PW",
                "start_date": str(day),
                "inflow_reason": "employment_ended",
                "members": [{"client_ref": applicant, "role": "applicant", "birth_date": "1980-05-01"}],
            }
        else:
            joining = step % 2 == 1
            envelope["type"] = "stroom.benefit.members_changed.v1"
            envelope["data"] = {
                "benefit_ref": benefit,
                "effective_date": str(day),
                "joined": [{"client_ref": partner, "role": "partner", "birth_date": "1982-03-04"}]
                if joining
                else [],
                "left": [] if joining else [{"client_ref": partner}],
            }
        yield envelope


class Facts:
    """When each benefit's latest fact arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=20
        )
        self.arrived: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for record in self.consumer:
            self.arrived[record.key.decode()] = time.time()

    async def wait_all_after(self, keys: list[str], since: float, limit: float) -> None:
        deadline = time.time() + limit
        while any(self.arrived.get(key, 0.0) < since for key in keys):
            if time.time() > deadline:
                raise TimeoutError(f"facts of {len(keys)} benefits not all out within {limit:.0f} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()


async def send(producer: AIOKafkaProducer, topic: str, validator: EventValidator, raws: list[Any]) -> None:
    for raw in raws:
        envelope = validator.validate(raw)
        key = entity_key(envelope)
        assert key is not None
        value, headers = encode(envelope)
        await producer.send(topic, value, key=key.encode(), headers=headers)
    await producer.flush()


# After a depth's facts are out, its worker still takes the broker's acknowledgements and marks
# the batch done: counted in that round.
SETTLE_SECONDS = 0.1


@dataclass
class Depth:
    """One depth's benefits, topics, database and worker, and what each of its rounds cost per
    event: the worker's CPU and its database backends'."""

    depth: int
    source: str
    benefits: list[str]
    fact_keys: list[str]
    events_topic: str
    database: str
    worker: subprocess.Popen[bytes]
    facts: Facts
    idle_rate: float = 0.0
    # Per round: the worker's CPU seconds and the round's wall seconds (idle polling not yet
    # taken off), the backends' CPU seconds.
    worker_cpu: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    database_cpu: list[float] = field(default_factory=list)

    @property
    def worker_us(self) -> list[float]:
        per = 1e6 / len(self.benefits)
        return [
            (cpu - self.idle_rate * wall) * per for cpu, wall in zip(self.worker_cpu, self.walls, strict=True)
        ]


def worker_command(profile: str | None, depth: int) -> list[str]:
    if profile is None:
        return [sys.executable, "-m", "stroom_caseload"]
    return [
        sys.executable,
        "-m",
        "bench.caseload",
        "--phase",
        "worker",
        "--profile",
        f"{profile}/depth-{depth}.prof",
    ]


async def start_depth(
    bootstrap: str,
    env: dict[str, str],
    admin: asyncpg.Connection,
    validator: EventValidator,
    depth: int,
    entities: int,
    profile: str | None,
) -> Depth:
    from stroom_caseload.commands import migrate

    tag = secrets.token_hex(3)
    events_topic, facts_topic = f"bench-depth-events-{tag}", f"bench-depth-facts-{tag}"
    await ensure_topics(bootstrap, [TopicSpec(events_topic, PARTITIONS), TopicSpec(facts_topic, PARTITIONS)])
    url, name = env["DATABASE_URL"].rsplit("/", 1)
    database = f"{name}_d{depth}"
    await admin.execute(f'CREATE DATABASE "{database}"')
    await migrate(f"{url}/{database}")
    source = f"urn:stroom:bench:depth-{tag}"
    benefits = [f"B{index:04d}" for index in range(entities)]
    keys = [entity_key(validator.validate(next(benefit_events(source, b, 0, 1)))) for b in benefits]
    worker = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        worker_command(profile, depth),
        env={
            **env,
            "DATABASE_URL": f"{url}/{database}",
            "STROOM_EVENTS_TOPIC": events_topic,
            "STROOM_FACTS_TOPIC": facts_topic,
            "STROOM_CONSUMER_GROUP": f"bench-depth-{tag}",
            "STROOM_HTTP_PORT": str(free_port()),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    facts = Facts(bootstrap, facts_topic)
    await facts.start()
    fact_keys = [key for key in keys if key is not None]
    return Depth(depth, source, benefits, fact_keys, events_topic, database, worker, facts)


async def measure_round(
    depth: Depth, database: DatabaseCpu, producer: AIOKafkaProducer, validator: EventValidator, step: int
) -> None:
    """One more event for each of the depth's benefits, and what it cost."""
    database_before = (await database.seconds())[depth.database]
    before = cpu_seconds(depth.worker.pid)
    started = time.time()
    events = [next(benefit_events(depth.source, benefit, step, 1)) for benefit in depth.benefits]
    await send(producer, depth.events_topic, validator, events)
    await depth.facts.wait_all_after(depth.fact_keys, started, limit=120)
    await asyncio.sleep(SETTLE_SECONDS)
    depth.walls.append(time.time() - started)
    depth.worker_cpu.append(cpu_seconds(depth.worker.pid) - before)
    depth.database_cpu.append((await database.seconds())[depth.database] - database_before)


async def idle_rates(depths: list[Depth]) -> list[float]:
    """Each waiting worker's CPU per second (it still polls the broker), all measured at once."""
    began, before = time.time(), [cpu_seconds(d.worker.pid) for d in depths]
    await asyncio.sleep(IDLE_SECONDS)
    took = time.time() - began
    return [(cpu_seconds(d.worker.pid) - b) / took for d, b in zip(depths, before, strict=True)]


def summary(depth: Depth, first: Depth | None) -> dict[str, float]:
    worker = statistics.median(depth.worker_us)
    base = worker if first is None else statistics.median(first.worker_us)
    quartiles = statistics.quantiles(depth.worker_us, n=4) if len(depth.worker_us) > 1 else [worker] * 3
    return {
        "depth": float(depth.depth),
        "events": float(len(depth.benefits) * len(depth.worker_us)),
        "cpu_us_per_event": worker,
        "cpu_us_q1": quartiles[0],
        "cpu_us_q3": quartiles[2],
        "cpu_us_mean": statistics.fmean(depth.worker_us),
        "ratio": worker / base,
        "database_us_per_event": statistics.median(depth.database_cpu) / len(depth.benefits) * 1e6,
        "seconds": sum(depth.walls),
        "idle_cpu_share": depth.idle_rate,
    }


async def history_depths(
    bootstrap: str,
    env: dict[str, str],
    depths: list[int],
    entities: int,
    rounds: int,
    profile: str | None = None,
) -> list[dict[str, float]]:
    print(
        f"live CPU per event naar geschiedenislengte ({entities} uitkeringen per diepte, {rounds} rondes van"
        " elk één event, de diepten om beurten; mediaan over de rondes, kwartielen tussen haakjes):"
    )
    organisations = load_organisations()
    validator = EventValidator(Pseudonymiser(KEY), organisations.municipality_codes)
    admin_url = env["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]
    admin = await asyncpg.connect(f"{admin_url}/postgres")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    started: list[Depth] = []
    try:
        for depth in depths:
            started.append(await start_depth(bootstrap, env, admin, validator, depth, entities, profile))
        history_started = time.time()
        for d in started:
            history = [raw for b in d.benefits for raw in benefit_events(d.source, b, 0, d.depth)]
            await send(producer, d.events_topic, validator, history)
        for d in started:
            await d.facts.wait_all_after(d.fact_keys, history_started, limit=900)
        # The last fact of a history may precede the worker's commit of that batch: let it settle.
        await asyncio.sleep(2)
        if profile is not None:
            for d in started:
                d.worker.send_signal(signal.SIGUSR1)  # the profile of the rounds only
        before = await idle_rates(started)
        # Every 100 ms: the live path's statements do not go parallel, and a watch every millisecond
        # would take from the cores whose CPU per event this measures.
        async with DatabaseCpu(*(d.database for d in started), interval=0.1) as database:
            for round_ in range(rounds):
                turn = round_ % len(started)
                for d in started[turn:] + started[:turn]:
                    await measure_round(d, database, producer, validator, d.depth + round_)
        after = await idle_rates(started)
        for d, rate_before, rate_after in zip(started, before, after, strict=True):
            d.idle_rate = (rate_before + rate_after) / 2
    finally:
        await producer.stop()
        for d in started:
            await d.facts.stop()
            d.worker.send_signal(signal.SIGTERM)
        for d in started:
            d.worker.wait(timeout=60)
        await admin.close()
        await drop_databases([d.database for d in started], f"{admin_url}/postgres")
    results = [summary(d, started[0]) for d in started]
    for result in results:
        print(
            f"  {result['depth']:>5.0f} events per entiteit: {result['cpu_us_per_event']:,.0f} us per event"
            f" ({result['cpu_us_q1']:,.0f}-{result['cpu_us_q3']:,.0f};"
            f" gemiddeld {result['cpu_us_mean']:,.0f}) CPU van de worker,"
            f" {result['ratio']:.2f}x de eerste diepte (doel: binnen 1.20x);"
            f" PostgreSQL {result['database_us_per_event']:,.0f} us;"
            f" {result['seconds']:.1f} s, stilstaande worker {result['idle_cpu_share']:.1%} van een core"
            " afgetrokken"
        )
    print(f"  (belastingsgemiddelde {os.getloadavg()[0]:.1f})")
    return results
