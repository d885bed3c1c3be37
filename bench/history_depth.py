"""Live CPU per event against the length of an entity's history.

For each depth N, `--entities` benefits each get a history of N events (started, then members
joining and leaving), which one caseload worker applies; then `--rounds` rounds of one more event
per benefit follow, each round waited for until every benefit's fact is out, so every batch the
worker takes holds at most one new event per benefit. The worker's CPU seconds over those rounds,
less what it spends polling when idle, per event, is the live path's cost of one event on an
entity with N events behind it; the ratio to the shallowest depth shows whether that cost grows
with history.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import TopicSpec, ensure_topics, free_port
from stroom_platform.organisations import load_organisations
from stroom_simulator.bsns import pseudonym

PARTITIONS = 6
START = date(2020, 1, 1)
IDLE_SECONDS = 5
KEY = b"bench-pseudonym-key-0123456789abcdef"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def depth_cost(
    bootstrap: str, env: dict[str, str], depth: int, entities: int, rounds: int
) -> dict[str, float]:
    tag = secrets.token_hex(3)
    events_topic, facts_topic = f"bench-depth-events-{tag}", f"bench-depth-facts-{tag}"
    await ensure_topics(bootstrap, [TopicSpec(events_topic, PARTITIONS), TopicSpec(facts_topic, PARTITIONS)])
    source = f"urn:stroom:bench:depth-{tag}"
    benefits = [f"B{index:04d}" for index in range(entities)]
    organisations = load_organisations()
    validator = EventValidator(Pseudonymiser(KEY), organisations.municipality_codes)
    keys = [
        entity_key(validator.validate(next(benefit_events(source, benefit, 0, 1)))) for benefit in benefits
    ]
    fact_keys = [key for key in keys if key is not None]
    worker = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [sys.executable, "-m", "stroom_caseload"],
        env={
            **env,
            "STROOM_EVENTS_TOPIC": events_topic,
            "STROOM_FACTS_TOPIC": facts_topic,
            "STROOM_CONSUMER_GROUP": f"bench-depth-{tag}",
            "STROOM_HTTP_PORT": str(free_port()),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    facts = Facts(bootstrap, facts_topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await facts.start()
    await producer.start()
    try:
        history_started = time.time()
        history = [raw for benefit in benefits for raw in benefit_events(source, benefit, 0, depth)]
        await send(producer, events_topic, validator, history)
        await facts.wait_all_after(fact_keys, history_started, limit=600)
        # The last fact of the history may precede the worker's commit of that batch: let it settle.
        await asyncio.sleep(2)
        # A waiting worker still polls the broker: its CPU per second idle is taken off below.
        idle_from, idle_cpu = time.time(), cpu_seconds(worker.pid)
        await asyncio.sleep(IDLE_SECONDS)
        idle_rate = (cpu_seconds(worker.pid) - idle_cpu) / (time.time() - idle_from)
        before = cpu_seconds(worker.pid)
        started = time.time()
        for round_ in range(rounds):
            sent_at = time.time()
            await send(
                producer,
                events_topic,
                validator,
                [next(benefit_events(source, benefit, depth + round_, 1)) for benefit in benefits],
            )
            await facts.wait_all_after(fact_keys, sent_at, limit=120)
        wall = time.time() - started
        spent = cpu_seconds(worker.pid) - before - idle_rate * wall
    finally:
        await producer.stop()
        await facts.stop()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    measured = entities * rounds
    return {
        "events": measured,
        "cpu_us_per_event": spent / measured * 1e6,
        "seconds": wall,
        "idle_cpu_share": idle_rate,
    }


async def history_depths(
    bootstrap: str, env: dict[str, str], depths: list[int], entities: int, rounds: int
) -> list[dict[str, float]]:
    results: list[dict[str, float]] = []
    print(f"live CPU per event by history length ({entities} benefits, {rounds} rounds of one event each):")
    for depth in depths:
        result = {"depth": float(depth), **await depth_cost(bootstrap, env, depth, entities, rounds)}
        results.append(result)
        ratio = result["cpu_us_per_event"] / results[0]["cpu_us_per_event"]
        print(
            f"  {depth:>5} events per entity: {result['cpu_us_per_event']:,.0f} us an event (worker CPU),"
            f" {ratio:.2f}x the first depth (aim: within 1.20x);"
            f" {result['seconds']:.1f} s, idle worker {result['idle_cpu_share']:.1%} of a core taken off"
        )
    return results
