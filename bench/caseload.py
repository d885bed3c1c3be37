"""Caseload rebuild throughput against raw consume-and-decode, and freshness under load.

`.venv/bin/python -m bench.caseload [--events 1000000] [--rates 1000,5000] [--seconds 20] [--workers 2]`:

1. simulates WerkSaam Westfriesland (scaled to reach `--events`), pseudonymises and publishes
   it to a fresh topic on an embedded broker;
2. times a plain aiokafka consume + CloudEvents decode of the whole topic (the baseline) and
   `stroom caseload rebuild` of the same topic into PostgreSQL (its worker processes, one per
   core, each loading some of the partitions), and prints events/s, the ratio and the peak RSS
   of the busiest process; per step, the CPU of the rebuild's processes, its PostgreSQL backends
   and the broker against what the cores offered (where a core waited), and how long the worker
   processes that finished a step first waited for the last;
3. starts `--workers` caseload workers in one consumer group on that database and produces new
   events at each of `--rates` per second (on topics of their own, in record batches once per
   publish interval of the embedded broker's profile, as intake's relay sends them), measuring
   the delay from the moment an event is due at the rate (the wait for the next send included)
   to the entity's fact on the facts topic (published right after
   the transaction that makes the projection change visible): p50 / p99, the same split into
   its legs (due -> sent, sent -> fact made by a worker, made -> arrived), and beside it the
   workers' own account of where a batch's oldest event was how long after its acceptance
   (fetched, decoded, transaction started, applied, facts queued, published:
   `stroom_caseload_batch_delay_seconds`);
4. for each of `--depths`, the live worker's CPU per event on entities with that many events
   behind them (bench/history_depth.py).

`--repeat N` runs step 2 N times back to back; `--against OTHER/.venv/bin/python` runs another
checkout's rebuild beside this one's in each of them, after it in the first and before it in the
next, on the same topic and database (an A/B in one run); `--profile DIR` also profiles one
rebuild in a single process (DIR/rebuild-top.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import math
import os
import pstats
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.history_depth import cpu_seconds, history_depths
from bench.postgres import DatabaseCpu, engine_url, server_dsn
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import decode, encode
from stroom_contract.keys import entity_key
from stroom_contract.retractions import retraction_key
from stroom_contract.validation import EventValidator
from stroom_platform.auth import API_KEY_HEADER, OPS_READ, hash_api_key
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics, free_port
from stroom_platform.kafka.clients import PROFILES
from stroom_platform.kafka.lag import end_offsets
from stroom_platform.memory import peak_rss_mb
from stroom_platform.organisations import load_organisations
from stroom_platform.partitioner import partition_for
from stroom_simulator.history import simulate_history

ADMIN = server_dsn("postgres")
PARTITIONS = 6
KEY = b"bench-pseudonym-key-0123456789abcdef"
# Events per year at scale 1.0 for WerkSaam (measured from the simulator).
EVENTS_PER_SCALE_YEAR = 28_500


async def publish(bootstrap: str, topic: str, events: Any, limit: int) -> int:
    organisations = load_organisations()
    validator = EventValidator(Pseudonymiser(KEY), organisations.municipality_codes)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    keys: dict[tuple[str, str], str] = {}
    sent = 0
    try:
        for raw in events:
            envelope = validator.validate(raw)
            key = entity_key(envelope)
            if key is None:
                # As intake keys it: by the end of its chain, as far as it is known yet.
                target = (envelope.source, raw["data"]["retracted_id"])
                key = keys.get(target) or retraction_key(*target)
            keys[(envelope.source, envelope.id)] = key
            value, headers = encode(envelope)
            await producer.send(topic, value, key=key.encode(), headers=headers)
            sent += 1
            if sent >= limit:
                break
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def baseline(bootstrap: str, topic: str) -> dict[str, Any]:
    """Consume the whole topic and decode each record into a typed event: the ceiling."""
    # Fetched as the rebuild fetches.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5000,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    await probe.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = await end_offsets(probe, tps, PROFILES["embedded"])
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    started = time.perf_counter()
    cpu = time.process_time()
    count = 0
    while any([await consumer.position(tp) < end for tp, end in ends.items()]):
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for record in records:
                decode(record.value, record.headers)
                count += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    await consumer.stop()
    await probe.stop()
    return {"events": count, "seconds": elapsed, "cpu_seconds": {"consume": cpu}, "rss_mb": peak_rss_mb()}


async def rebuild_phase(profile: str | None = None) -> dict[str, Any]:
    from stroom_caseload.rebuild.run import rebuild
    from stroom_caseload.settings import CaseloadSettings

    settings = CaseloadSettings()
    started = time.perf_counter()
    if profile:
        # One process does every step (`rebuild_workers=1`), so one profile holds all of them.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        result = await rebuild(settings.model_copy(update={"rebuild_workers": 1}))
        profiler.disable()
        profiler.dump_stats(profile)
    else:
        result = await rebuild(settings)
    return {
        "events": result.records,
        "seconds": time.perf_counter() - started,
        # What it wrote: the same history must give the same counts, whichever code rebuilt it.
        "entities": result.entities,
        "client_records": result.client_records,
        # The steps run one after the other up to here: where each began, for `BackendSampler`.
        "ended_at": time.time(),
        "rss_mb": max(peak_rss_mb(), result.worker_peak_rss_mb),
        "workers": result.workers,
        "steps": result.steps,
        "cpu_seconds": result.worker_cpu_seconds,
        "idle_seconds": result.worker_idle_seconds,
        "own_cpu_seconds": result.cpu_seconds,
    }


def write_top(profile: str, path: str) -> None:
    """A profile's functions by their own time, then by their time with what they call."""
    with open(path, "w") as top:
        pstats.Stats(profile, stream=top).sort_stats("tottime").print_stats(40)
        pstats.Stats(profile, stream=top).sort_stats("cumulative").print_stats(60)


def profiled_worker(path: str) -> None:
    """A caseload worker under cProfile, its profile written to `path` when it is stopped."""
    from stroom_caseload.commands import run_worker

    # uvicorn raises the signal again once it has shut down: ignored here, so the profile is
    # written rather than the process ended by it.
    signal.signal(signal.SIGTERM, lambda *_: None)
    # CPU time, not the clock: on a shared machine the clock charges a function for the time its
    # process waited for a core.
    profiler = cProfile.Profile(time.process_time)
    # SIGUSR1 starts the profile afresh: what came before (a history built up to be measured
    # on) is left out.
    signal.signal(signal.SIGUSR1, lambda *_: profiler.clear())
    profiler.runcall(run_worker)
    profiler.dump_stats(path)


def line(name: str, result: dict[str, Any]) -> str:
    rate = result["events"] / result["seconds"]
    return (
        f"{name:<27}{result['events']:,} events in {result['seconds']:.1f} s = {rate:,.0f} events/s,"
        f" piek-RSS {result['rss_mb']:.0f} MB"
        + (f" per proces, {result['workers']} werkprocessen" if "workers" in result else "")
    )


def cpu_line(result: dict[str, Any]) -> str:
    """CPU seconds of the measured processes (not the database's or the broker's): steadier than
    the clock on a machine shared with other work."""
    seconds = result["cpu_seconds"]
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    per_event = sum(seconds.values()) / result["events"] * 1e6
    return f"  CPU: {parts}; {per_event:.1f} us per event"


# The rebuild's steps its worker processes run, by the name of the step that times them.
WORKER_STEPS = {"load": "load", "fold": "fold", "publish": "republish"}


def busy_line(result: dict[str, Any]) -> str:
    """How much of a worker step's clock time its processes spent on a core. Under other work a
    low share says little by itself (a process waits for a core too), but beside the same run's
    other steps it shows which step waits for the broker or the database rather than computing."""
    workers = result["workers"]
    parts = ", ".join(
        f"{step} {cpu / (workers * result['steps'][step]):.0%}"
        for name, cpu in result["cpu_seconds"].items()
        if (step := WORKER_STEPS.get(name)) and result["steps"].get(step)
    )
    # An older checkout's rebuild phase may not say how long its processes waited for each other.
    idle = ", ".join(
        f"{WORKER_STEPS[name]} {seconds:.1f} s" for name, seconds in result.get("idle_seconds", {}).items()
    )
    return f"  werkprocessen bezig (CPU / klok): {parts}" + (
        f"; wachtend op de laatste van hun stap: {idle}" if idle else ""
    )


def cores_line(result: dict[str, Any], database: dict[str, float], broker: dict[str, float]) -> str:
    """Per step the CPU of everything the rebuild keeps busy (its own process, its worker
    processes, its PostgreSQL backends and the broker) over what the machine's cores offered in the
    step's time: below 100 % on a machine left to the rebuild, a core waited; what the steps lack
    of it together is what the rebuild's structure, not its CPU, costs."""
    steps = result["steps"]
    own = result.get("own_cpu_seconds", {})
    workers = {WORKER_STEPS[name]: cpu for name, cpu in result["cpu_seconds"].items() if name in WORKER_STEPS}
    cores = os.cpu_count() or 1
    spent = {
        step: own.get(step, 0.0) + workers.get(step, 0.0) + database.get(step, 0.0) + broker.get(step, 0.0)
        for step in steps
    }
    idle = sum(cores * seconds - spent[step] for step, seconds in steps.items())
    parts = ", ".join(
        f"{step} {spent[step] / (cores * seconds):.0%}" for step, seconds in steps.items() if seconds
    )
    return f"  kernen bezet ({cores}, alle CPU / (kernen x klok)): {parts}; onbenut {idle:.1f} kern-s"


def run_phase(phase: str, env: dict[str, str], *args: str, python: str = sys.executable) -> dict[str, Any]:
    """`python`: of this checkout's .venv, or of another's, whose code then runs the phase."""
    out = subprocess.run(
        [python, "-m", "bench.caseload", "--phase", phase, *args],
        cwd=Path(python).absolute().parents[2],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class BackendSampler:
    """The CPU of the PostgreSQL processes working for one database (`DatabaseCpu`), sampled every
    100 ms while a phase runs in another process, for the phase's steps."""

    def __init__(self, database: str, broker: int | None = None) -> None:
        """`broker`: the broker's process, whose CPU is sampled with the backends'."""
        self.database = database
        self.broker = broker
        self.samples: list[tuple[float, float]] = []
        self.broker_samples: list[tuple[float, float]] = []

    async def run(self) -> None:
        # The broker's since the watch began, as the backends' (its own clock counts all its life).
        broker = self.broker
        began = 0.0 if broker is None else cpu_seconds(broker)
        # Every 10 ms: the rebuild's statements that go parallel run for longer than that, and a
        # watch every millisecond would take from the cores whose rate this measures.
        async with DatabaseCpu(self.database, interval=0.01) as database:
            while True:
                spent = (await database.seconds())[self.database]
                self.samples.append((time.time(), spent))
                if broker is not None:
                    self.broker_samples.append((time.time(), cpu_seconds(broker) - began))
                await asyncio.sleep(0.1)

    @staticmethod
    def between(samples: list[tuple[float, float]], start: float, end: float) -> float:
        def at(moment: float) -> float:
            return max((cpu for when, cpu in samples if when <= moment), default=0.0)

        return at(end) - at(start)

    def per_step(
        self, steps: dict[str, float], ended_at: float, started_at: float, broker: bool = False
    ) -> dict[str, float]:
        """CPU seconds per step of the backends (or of the broker), the steps having run one
        after the other up to `ended_at`; `start` is what came before them (emptying the shadow set
        among it)."""
        samples = self.broker_samples if broker else self.samples
        moment = ended_at - sum(steps.values())
        spent = {"start": self.between(samples, started_at, moment)}
        for name, seconds in steps.items():
            spent[name] = self.between(samples, moment, moment + seconds)
            moment += seconds
        return spent


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """The live worker's group starts where the rebuild ended, as it would in production."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    await probe.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await end_offsets(probe, tps, PROFILES["embedded"])
        consumer.assign(tps)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
        await probe.stop()


async def freshness(
    broker: EmbeddedBroker,
    env: dict[str, str],
    organisation: str,
    rate: int,
    seconds: int,
    worker_count: int,
    profile: str | None = None,
) -> Freshness:
    # Topics of its own: Tansu's memory engine answers fetches on a topic holding the million
    # replayed records in about a second (Apache Kafka finds an offset through its index), and
    # that is the embedded broker's delay, not the service's.
    bootstrap = broker.bootstrap_servers
    tag = secrets.token_hex(3)
    events_topic, facts_topic = f"bench-live-events-{tag}", f"bench-live-facts-{tag}"
    await ensure_topics(bootstrap, [TopicSpec(events_topic, PARTITIONS), TopicSpec(facts_topic, PARTITIONS)])
    env = {
        **env,
        "STROOM_EVENTS_TOPIC": events_topic,
        "STROOM_FACTS_TOPIC": facts_topic,
        "STROOM_CONSUMER_GROUP": f"bench-live-{tag}",
    }
    # A key of the bench's own that may read the workers' metrics.
    metrics_key = secrets.token_urlsafe(32)
    env["STROOM_API_KEYS"] = json.dumps(
        [{"hash": hash_api_key(metrics_key), "subject": "bench", "scopes": [OPS_READ]}]
    )
    await start_group_at_end(bootstrap, env["STROOM_CONSUMER_GROUP"], events_topic)
    # One consumer group: the workers split the partitions between them.
    ports = [free_port() for _ in range(worker_count)]
    workers = [
        subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [
                sys.executable,
                "-m",
                *(
                    ("bench.caseload", "--phase", "worker", "--profile", f"{profile}/worker-{rate}-{n}.prof")
                    if profile
                    else ("stroom_caseload",)
                ),
            ],
            env={**env, "STROOM_HTTP_PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, port in enumerate(ports)
    ]
    # A short fetch wait: the probe must not add its own delay to what it measures. The embedded
    # broker holds a fetch that finds nothing new for its whole wait, even when records arrive
    # meanwhile: with 500 ms the probe added about 120 ms to the median at 1,000 events/s.
    facts = AIOKafkaConsumer(
        facts_topic, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=20
    )
    await facts.start()
    arrived: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    # Where a key's delay goes: when its first event went out, and when the worker made the fact
    # that arrived first (the record's time, stamped by the worker's producer as it queued it).
    went: dict[str, float] = {}
    made: dict[str, float] = {}

    async def listen() -> None:
        # A fetch's records at once, stamped as it returns, as the services consume: one by one,
        # iterating cost this process (which also generates the load) about 2 us more a record,
        # and stamped a fetch's later records late by the time spent on those before them.
        while True:
            fetched = await facts.getmany(timeout_ms=1000)
            now = time.time()
            for records in fetched.values():
                for record in records:
                    key = record.key.decode()
                    if key in sent_at and key not in arrived:
                        arrived[key] = now
                        made[key] = record.timestamp / 1000

    listener = asyncio.create_task(listen())
    await asyncio.sleep(8 + 4 * worker_count)  # the workers join their group and rebalance
    organisations = load_organisations()
    org = organisations.organisation(organisation)
    assert org is not None
    validator = EventValidator(Pseudonymiser(KEY), organisations.municipality_codes)
    total = rate * seconds
    # Encoded before the clock starts: the load generator must not eat the cores it measures.
    load: list[tuple[bytes, str, bytes, list[tuple[str, bytes]]]] = []
    stream = simulate_history(org, years=5, seed=99, start=date(2020, 1, 1), noise=False, scale=2.0)
    for raw in stream:
        if len(load) >= total:
            break
        envelope = validator.validate(raw)
        key = entity_key(envelope)
        if key is None:
            continue
        # A person's point facts are keyed per record (see `client_record`), entities per entity.
        fact_key = f"{key}|{envelope.source}|{envelope.id}" if key.startswith("client:") else key
        load.append((key.encode(), fact_key, *encode(envelope)))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, max_batch_size=256 * 1024)
    await producer.start()
    partitions = sorted(await producer.partitions_for(events_topic))
    routed = [(partition_for(record[0], partitions, partitions), *record) for record in load]
    # No garbage collection while it measures: a full pass over this process's heap (the load,
    # the records in flight) took up to 0.7 s of CPU, and every fact that arrived meanwhile was
    # stamped that much late. Cycles made meanwhile wait for the collection after it.
    gc.collect()
    gc.disable()
    # Every 100 ms: the live path's statements do not go parallel, and a watch every millisecond
    # would take from the cores whose delay this measures.
    database = DatabaseCpu(env["DATABASE_URL"].rsplit("/", 1)[1], interval=0.1)
    await database.start()
    begin = time.time()
    cpu_before = sum(cpu_seconds(worker.pid) for worker in workers)
    # The rest of what the rate asks of the machine: the broker, and this process (the load
    # generator and the facts' listener).
    others = [pid for pid in (broker.pid, os.getpid()) if pid is not None]
    others_before = [cpu_seconds(pid) for pid in others]
    sent = 0
    # Each second the CPU the workers and the broker have used so far: whose cost rises with the
    # run says where a rising delay comes from.
    cpu_samples: list[CpuSample] = []
    # Once per publish interval of the broker's profile, what is due goes out as one record batch per
    # partition, as intake's relay sends under load: a `send` per record would cost the generator
    # more CPU than the worker it loads.
    while sent < len(routed):
        now = time.time()
        if not cpu_samples or now - begin >= cpu_samples[-1].at + 1:
            cpu_samples.append(
                CpuSample(
                    now - begin,
                    sum(cpu_seconds(worker.pid) for worker in workers),
                    cpu_seconds(broker.pid) if broker.pid is not None else 0.0,
                )
            )
        due = min(len(routed), int((now - begin) * rate) + 1)
        batches: dict[int, Any] = {}
        first_keys: list[str] = []
        for index, (partition, record_key, fact_key, value, headers) in enumerate(routed[sent:due], sent):
            # Measured from when the first event of a key was due at the rate, not from when it went
            # out: the wait for the next publish interval counts, as it does behind intake's relay.
            if fact_key not in sent_at:
                sent_at[fact_key] = begin + index / rate
                first_keys.append(fact_key)
            batch = batches.get(partition)
            if (
                batch is None
                or batch.append(key=record_key, value=value, timestamp=None, headers=headers) is None
            ):
                if batch is not None:
                    await producer.send_batch(batch, events_topic, partition=partition)
                batch = batches[partition] = producer.create_batch()
                batch.append(key=record_key, value=value, timestamp=None, headers=headers)
        for partition, batch in batches.items():
            await producer.send_batch(batch, events_topic, partition=partition)
        went_out = time.time()
        went.update((key, went_out) for key in first_keys)
        sent = due
        await asyncio.sleep(PROFILES["embedded"].publish_interval_ms / 1000)
    await producer.flush()
    produce_seconds = time.time() - begin
    deadline = time.time() + 30
    while len(arrived) < len(sent_at) and time.time() < deadline:  # noqa: ASYNC110 - polls a dict
        await asyncio.sleep(0.2)
    cpu = sum(cpu_seconds(worker.pid) for worker in workers) - cpu_before
    broker_cpu, generator_cpu = (
        cpu_seconds(pid) - before for pid, before in zip(others, others_before, strict=True)
    )
    gc.enable()
    database_cpu = sum((await database.seconds()).values())
    await database.stop()
    stages, transactions = await asyncio.to_thread(worker_batches, ports, metrics_key)
    listener.cancel()
    await facts.stop()
    await producer.stop()
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)
    sent = len(load)
    print(f"  {sent:,} events geproduceerd in {produce_seconds:.1f} s ({sent / produce_seconds:,.0f}/s)")
    print(
        f"  CPU van de workers {cpu:.1f} s, {cpu / sent * 1e6:.0f} us per event; van hun PostgreSQL-backends"
        f" {database_cpu:.1f} s, {database_cpu / sent * 1e6:.0f} us per event"
        f" (belastingsgemiddelde {os.getloadavg()[0]:.1f})"
    )
    # What the rate asks of the machine's cores, workers and database together, and with the
    # broker and the load generator, which share the cores here: over what the machine can give,
    # no setting keeps the group up, and the delay grows all run long.
    print(
        f"  bij {rate:,} events per seconde vraagt dat {rate * (cpu + database_cpu) / sent:.2f}"
        f" van de {os.cpu_count()} cores van deze machine; met de broker ({broker_cpu / sent * 1e6:.0f} us"
        f" per event) en deze belastingsgenerator met zijn luisteraar naar feiten"
        f" ({generator_cpu / sent * 1e6:.0f} us) erbij"
        f" {rate * (cpu + database_cpu + broker_cpu + generator_cpu) / sent:.2f}"
    )
    # PostgreSQL's CPU an event moves with how many transactions carry the events.
    print(
        f"  {transactions:,} transacties, {sent / max(transactions, 1):.1f} events per transactie"
        f" ({transactions / produce_seconds:.0f} per seconde)"
    )
    print(
        "  het oudste event van een batch, na zijn aanname (p50 / p99 over de batches): "
        + ", ".join(f"{stage} {p50 * 1000:.0f} / {p99 * 1000:.0f} ms" for stage, (p50, p99) in stages.items())
    )
    return Freshness(
        [(sent_at[k] - begin, arrived[k] - sent_at[k]) for k in arrived],
        len(sent_at) - len(arrived),
        sent / produce_seconds,
        cpu_samples,
        {
            "wachten op verzenden": [went[k] - sent_at[k] for k in arrived],
            "verzonden -> feit gemaakt (broker, worker)": [made[k] - went[k] for k in arrived],
            "feit gemaakt -> aangekomen (producer, broker, luisteraar)": [
                arrived[k] - made[k] for k in arrived
            ],
        },
    )


@dataclass(frozen=True)
class CpuSample:
    """Seconds into the load, and the CPU seconds the workers together and the broker had used."""

    at: float
    workers: float
    broker: float


@dataclass(frozen=True)
class Freshness:
    """When each measured entity's first event was sent (seconds into the load) and how long
    its fact took; how many entities had no fact by the end of the wait after the load; the
    rate the load generator reached; the CPU used so far, sampled each second of the load."""

    delays: list[tuple[float, float]]
    missing: int
    produced_rate: float
    cpu: list[CpuSample] = field(default_factory=list)
    # The same delays in legs, each a list in the order of `delays`: their quantiles say where
    # the time goes (the worker's stages are in its own histogram, `worker_batches`).
    legs: dict[str, list[float]] = field(default_factory=dict)


def cpu_by_third(samples: list[CpuSample]) -> tuple[CpuSample, CpuSample] | None:
    """The cores the workers and the broker used in the first and in the last third of the load
    (`at` the third's length in seconds), from the samples nearest its thirds; None with fewer
    than four samples."""
    if len(samples) < 4:
        return None
    end = samples[-1].at

    def nearest(moment: float) -> CpuSample:
        return min(samples, key=lambda sample: abs(sample.at - moment))

    def used(first: CpuSample, last: CpuSample) -> CpuSample:
        seconds = last.at - first.at
        return CpuSample(
            seconds, (last.workers - first.workers) / seconds, (last.broker - first.broker) / seconds
        )

    return used(samples[0], nearest(end / 3)), used(nearest(2 * end / 3), samples[-1])


def _p50_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p50, p99 = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.99))
    return p50, p99


def freshness_lines(result: Freshness, rate: int) -> list[str]:
    """The delay produce -> fact, and plainly whether it is the figure of a sustained rate: a
    group that fell behind and had not caught up when the load stopped would have shown a
    higher p99 in a longer run, and entities without a fact are missing from the quantiles."""
    if not result.delays:
        return ["  geen feit aangekomen: geen vertraging te melden"]
    p50, p99 = _p50_p99([delay for _, delay in result.delays])
    by_second: dict[int, list[float]] = {}
    for sent, delay in result.delays:
        by_second.setdefault(int(sent), []).append(delay)
    medians = [statistics.median(by_second[second]) for second in sorted(by_second)]
    lines = [
        f"  vertraging produceren -> feit: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        " (doel p99 < 250 ms bij aanhoudend 5.000 events/s)",
        "  p50 per seconde van verzenden: " + ", ".join(f"{m * 1000:.0f}" for m in medians) + " ms",
    ]
    if result.legs:
        lines.append(
            "  waar de tijd zit (p50 / p99): "
            + ", ".join(
                f"{leg} {' / '.join(f'{q * 1000:.0f}' for q in _p50_p99(values))} ms"
                for leg, values in result.legs.items()
            )
        )
    # A group that keeps up ends the load about as fresh as it was at its best second; one that
    # fell behind ends it with a queue, which a longer run would only have made longer. One that
    # never kept up has a queue even at its best: a batch's own stages take tens of milliseconds.
    best = min(medians)
    behind = (medians[-1] > 2 * best and medians[-1] - best > 0.1) or best > 1.0
    if behind:
        lines.append(
            "  NIET VOLGEHOUDEN: de groep raakte achter en had dat niet ingehaald toen de belasting stopte"
            f" (de events van de laatste seconde wachtten p50 {medians[-1] * 1000:.0f} ms, die van de"
            f" beste seconde {best * 1000:.0f} ms): de p99 hierboven is een ondergrens, een langere run"
            " laat meer zien"
        )
    # A queue that grows slowly never doubles within one run, yet a longer run would only show
    # more of it: the run's last third is compared with its first, a third each so that one slow
    # second (a burst caught up from) decides nothing.
    third = len(medians) // 3
    if not behind and third:
        early, late = statistics.median(medians[:third]), statistics.median(medians[-third:])
        if late > 1.5 * early and late - early > 0.05:
            lines.append(
                "  NIET VOLGEHOUDEN: de vertraging steeg gestaag (p50 per seconde in het eerste derde"
                f" {early * 1000:.0f} ms, in het laatste {late * 1000:.0f} ms): de groep liep langzaam"
                " achter, de p99 hierboven is een ondergrens, een langere run laat meer zien"
            )
    if (thirds := cpu_by_third(result.cpu)) is not None:
        early_cpu, late_cpu = thirds
        lines.append(
            "  CPU in het eerste en het laatste derde van de belasting, in cores:"
            f" workers {early_cpu.workers:.2f} en {late_cpu.workers:.2f},"
            f" broker {early_cpu.broker:.2f} en {late_cpu.broker:.2f}"
        )
    if result.missing:
        lines.append(
            f"  NIET VOLGEHOUDEN: {result.missing} van {len(result.delays) + result.missing} entiteiten"
            " zonder feit binnen 30 s na de belasting, weggelaten uit de kwantielen hierboven, die"
            " daarmee ondergrenzen zijn"
        )
    if result.produced_rate < rate * 0.95:
        lines.append(
            f"  de belastingsgenerator haalde {result.produced_rate:,.0f} events/s, niet {rate:,}:"
            " dit is niet het cijfer van die snelheid"
        )
    return lines


def worker_batches(ports: list[int], key: str) -> tuple[dict[str, tuple[float, float]], int]:
    """The workers' `stroom_caseload_batch_delay_seconds` per stage, summed over the workers:
    the p50 and p99 as the upper bounds of the buckets they fall in; and how many transactions
    they committed (`stroom_caseload_batch_apply_seconds`' count: one a batch applied)."""
    buckets: dict[str, dict[float, float]] = {}
    transactions = 0.0
    for port in ports:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={API_KEY_HEADER: key})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own worker
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "stroom_caseload_batch_apply_seconds":
                transactions += sum(s.value for s in family.samples if s.name.endswith("_count"))
            if family.name != "stroom_caseload_batch_delay_seconds":
                continue
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    stage = buckets.setdefault(sample.labels["stage"], {})
                    bound = float(sample.labels["le"])
                    stage[bound] = stage.get(bound, 0.0) + sample.value

    def quantile(cumulative: dict[float, float], q: float) -> float:
        total = cumulative[math.inf]
        return next(bound for bound, count in sorted(cumulative.items()) if count >= q * total)

    delays = {
        stage: (quantile(counts, 0.5), quantile(counts, 0.99))
        for stage, counts in buckets.items()
        if counts.get(math.inf)
    }
    return delays, int(transactions)


async def rebuild_against_raw(
    env: dict[str, str], topic: str, database_name: str, broker: int | None, python: str = sys.executable
) -> float:
    """The raw consumer and then the rebuild over the whole of `topic`; gives the ratio of their
    rates. `broker`: its process, whose CPU is counted; `python`: whose rebuild (see `run_phase`)."""
    raw = run_phase("baseline", env, "--topic", topic)
    raw_rate: float = raw["events"] / raw["seconds"]
    print(line("kaal consumeren + decoderen:", raw))
    print(cpu_line(raw))
    # The same share for the one process of the baseline: what the machine's other work left it.
    print(f"  bezig (CPU / klok): {raw['cpu_seconds']['consume'] / raw['seconds']:.0%}")
    sampler = BackendSampler(database_name, broker)
    sampling = asyncio.create_task(sampler.run())
    phase_started = time.time()
    built = await asyncio.to_thread(run_phase, "rebuild", env, python=python)
    await asyncio.sleep(0.2)  # a last sample of every backend still there
    sampling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampling
    rate: float = built["events"] / built["seconds"]
    print(line("herbouw caseload:" if python == sys.executable else "herbouw van de ander:", built))
    if "entities" in built:  # an older checkout's rebuild phase may not say
        print(f"  herbouwd: {built['entities']:,} entiteiten, {built['client_records']:,} cliëntrecords")
    print("  stappen: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in built["steps"].items()))
    print(cpu_line(built))
    print(busy_line(built))
    database = sampler.per_step(built["steps"], built["ended_at"], phase_started)
    print(
        "  CPU van zijn PostgreSQL-backends: "
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in database.items())
        + f"; {sum(database.values()) / built['events'] * 1e6:.1f} us per event"
        f" (belastingsgemiddelde {os.getloadavg()[0]:.1f})"
    )
    broker_cpu = sampler.per_step(built["steps"], built["ended_at"], phase_started, broker=True)
    print(
        "  CPU van de broker: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in broker_cpu.items())
    )
    print(cores_line(built, database, broker_cpu))
    print(f"verhouding herbouw / kaal: {rate / raw_rate:.1%} (doel >= 50 %)")
    return rate / raw_rate


async def main(args: argparse.Namespace) -> None:
    name = f"stroom_bench_{os.getpid()}_{secrets.token_hex(2)}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = engine_url(name)
    broker = EmbeddedBroker()
    await broker.start()
    try:
        tag = secrets.token_hex(3)
        topics = {"events": f"bench-events-{tag}", "facts": f"bench-facts-{tag}", "dead": f"bench-dl-{tag}"}
        await ensure_topics(
            broker.bootstrap_servers,
            [
                TopicSpec(topics["events"], PARTITIONS),
                TopicSpec(topics["facts"], PARTITIONS),
                TopicSpec(topics["dead"], 1),
            ],
        )
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "DATABASE_URL": url,
            "STROOM_EVENTS_TOPIC": topics["events"],
            "STROOM_FACTS_TOPIC": topics["facts"],
            "STROOM_DEAD_LETTER_TOPIC": topics["dead"],
            "STROOM_CONSUMER_GROUP": f"bench-{tag}",
            "STROOM_LOG_LEVEL": "WARNING",
        }
        werksaam = load_organisations().organisation("werksaam-westfriesland")
        assert werksaam is not None
        scale = max(0.05, args.events / (EVENTS_PER_SCALE_YEAR * 5) * 1.05)
        started = time.perf_counter()
        stream = simulate_history(werksaam, years=5, seed=1, start=date(2020, 1, 1), noise=True, scale=scale)
        sent = await publish(broker.bootstrap_servers, topics["events"], stream, args.events)
        took = time.perf_counter() - started
        print(f"{sent:,} gesimuleerde events gepubliceerd (schaal {scale:.2f}) in {took:.0f} s")

        from stroom_caseload.commands import migrate

        await migrate(url)
        ratios: list[float] = []
        others: list[float] = []
        for run in range(args.repeat):
            if args.repeat > 1:
                print(f"run {run + 1} van {args.repeat} (belastingsgemiddelde {os.getloadavg()[0]:.1f}):")
            # This checkout and the other take turns at going first (A-B, B-A, ...): whichever
            # runs second finds the topic and the database warmer.
            if args.against and run % 2:
                others.append(
                    await rebuild_against_raw(env, topics["events"], name, broker.pid, args.against)
                )
            ratios.append(await rebuild_against_raw(env, topics["events"], name, broker.pid))
            if args.against and not run % 2:
                others.append(
                    await rebuild_against_raw(env, topics["events"], name, broker.pid, args.against)
                )
        if args.repeat > 1:
            print(
                "verhoudingen herbouw / kaal: "
                + ", ".join(f"{r:.1%}" for r in ratios)
                + f"; mediaan {statistics.median(ratios):.1%} (doel >= 50 %)"
            )
        if args.against:
            print(
                f"die van de andere checkout ({args.against}): "
                + ", ".join(f"{r:.1%}" for r in others)
                + f"; mediaan {statistics.median(others):.1%}"
            )
        if args.profile:
            path = f"{args.profile}/rebuild.prof"
            profiled = run_phase("rebuild", env, "--profile", path)
            print(f"herbouw in één proces onder cProfile: {profiled['seconds']:.1f} s kloktijd, {path}")
            print(f"  zijn duurste functies: {args.profile}/rebuild-top.txt")

        # Each rate gets an organisation the database has not seen: new entities, as in production.
        for rate, organisation in zip(args.rates, ["ijmond-werkt", "bar"], strict=False):
            print(
                f"versheid bij {rate:,} events/s gedurende {args.seconds} s,"
                f" {args.workers} workers ({organisation}):"
            )
            result = await freshness(
                broker,
                env,
                organisation,
                rate,
                args.seconds,
                args.workers,
                args.profile,
            )
            print("\n".join(freshness_lines(result, rate)))
        if args.depths:
            await history_depths(
                broker.bootstrap_servers,
                env,
                args.depths,
                args.depth_entities,
                args.depth_rounds,
                args.profile,
            )
    finally:
        broker.stop()
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.caseload",
        description="Herbouw van caseload naast kaal consumeren en decoderen, versheid onder "
        "belasting (van event tot feit, p50 en p99) en de live CPU per event naar de lengte van de "
        "geschiedenis van een entiteit.",
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events van de gesimuleerde geschiedenis"
    )
    parser.add_argument(
        "--rates",
        type=lambda text: [int(r) for r in text.split(",") if r],
        default=[1000, 5000],
        help="hoogstens twee; geen: alleen de herbouw",
    )
    parser.add_argument("--seconds", type=int, default=20, help="seconden belasting per snelheid")
    parser.add_argument("--workers", type=int, default=2, help="caseload-workers onder belasting, één groep")
    parser.add_argument(
        "--depths",
        type=lambda text: [int(d) for d in text.split(",") if d],
        default=[10, 100, 300, 1000],
        help="events per entiteit voor de reeks van live kosten; geen: sla haar over",
    )
    # Each round is one repetition of every depth, its figure the median over them: 20 rounds of
    # 50 events a depth, where 20 rounds of 10 left one round's noise in the verdict.
    parser.add_argument("--depth-entities", type=int, default=50, help="uitkeringen per geschiedenislengte")
    parser.add_argument("--depth-rounds", type=int, default=20, help="rondes over alle geschiedenislengtes")
    parser.add_argument(
        "--repeat", type=int, default=1, help="hoe vaak de kale consumer en de herbouw na elkaar draaien"
    )
    parser.add_argument(
        "--against",
        help="de .venv/bin/python van een andere checkout: zijn herbouw draait in elke herhaling ernaast, "
        "om beurten erna en ervoor",
    )
    parser.add_argument(
        "--profile",
        help="map voor de cProfile-uitvoer van de live workers, en van nog een herbouw (in één proces)",
    )
    parser.add_argument("--phase", choices=["baseline", "rebuild", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.phase == "baseline":
        result = asyncio.run(baseline(os.environ["KAFKA_BOOTSTRAP_SERVERS"], arguments.topic))
        print(json.dumps(result))
    elif arguments.phase == "worker":
        profiled_worker(arguments.profile)
    elif arguments.phase == "rebuild":
        print(json.dumps(asyncio.run(rebuild_phase(arguments.profile))))
        if arguments.profile:
            write_top(arguments.profile, arguments.profile.removesuffix(".prof") + "-top.txt")
    else:
        if arguments.profile:
            # Made before the run, so a profile is not lost to a missing folder after it.
            Path(arguments.profile).mkdir(parents=True, exist_ok=True)
        asyncio.run(main(arguments))
