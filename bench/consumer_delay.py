"""How long the batch consumer takes to hand a record over, against how it fetches.

`.venv/bin/python -m bench.consumer_delay [--rate 2500] [--seconds 8] [--configs 10:40,0:40,0:20]`
starts an embedded broker and, for each configuration (`batch_within_seconds` in ms, the fetch's
`fetch_max_wait_ms`), one `BatchConsumer` on a topic of its own whose handler does nothing but
note when each record arrived. Records go out at `--rate` per second as one record batch per
partition every 20 ms (as intake's relay and `bench.caseload`'s load send them), stamped as they
are appended; the delay is the hand-over's moment less that stamp. Printed per configuration: the
delay's p50 / p90 / p99, the hand-overs, and the CPU per record of this process (producer and
consumer) and of the broker. The configurations run in the order given: alternate them
(`10:40,0:40,0:40,10:40`) on a machine with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Sequence
from typing import Any

from bench.history_depth import cpu_seconds
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import PROFILES, Broker
from stroom_platform.kafka.consuming import BatchConsumer, ConsumerOptions, Done, Record
from stroom_platform.partitioner import partition_for

PARTITIONS = 6
SEND_EVERY_SECONDS = 0.02


def quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(broker: EmbeddedBroker, rate: int, seconds: int, within_ms: int, wait_ms: int) -> str:
    topic = f"bench-delay-{secrets.token_hex(3)}"
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(topic, PARTITIONS)])
    client = Broker(broker.bootstrap_servers, PROFILES["embedded"])
    delays: list[float] = []
    handovers = 0

    async def handler(records: Sequence[Record], done: Done) -> None:
        nonlocal handovers
        now = time.time()
        handovers += 1
        delays.extend(now - record.timestamp for record in records if record.timestamp is not None)
        done()

    options = ConsumerOptions(batch_within_seconds=within_ms / 1000, fetch_max_wait_ms=wait_ms)
    consumer = BatchConsumer(client, topic, f"bench-delay-{topic}", handler, options)
    await consumer.start()
    await asyncio.sleep(6)  # joined its group
    producer = client.producer(linger_ms=0)
    await producer.start()
    partitions = sorted(await producer.partitions_for(topic))
    assert broker.pid is not None
    broker_cpu, own_cpu = cpu_seconds(broker.pid), time.process_time()
    begin, sent = time.time(), 0
    while time.time() - begin < seconds:
        due = int((time.time() - begin) * rate)
        batches: dict[int, Any] = {}
        for n in range(sent, due):
            key = b"k%d" % (n % 997)
            partition = partition_for(key, partitions, partitions)
            batch = batches.setdefault(partition, producer.create_batch())
            batch.append(key=key, value=b"x" * 300, timestamp=None, headers=[])
        sent = max(sent, due)
        for partition, batch in batches.items():
            await producer.send_batch(batch, topic, partition=partition)
        await asyncio.sleep(SEND_EVERY_SECONDS)
    await asyncio.sleep(1)  # the last records handed over
    own_cpu, broker_cpu = time.process_time() - own_cpu, cpu_seconds(broker.pid) - broker_cpu
    await producer.stop()
    await consumer.stop()
    ordered = sorted(delays)
    p50, p90, p99 = (quantile(ordered, q) * 1000 for q in (0.5, 0.9, 0.99))
    return (
        f"vullen {within_ms} ms, fetch-wacht {wait_ms} ms: {len(ordered):,} van {sent:,} records in"
        f" {handovers} batches, vertraging p50 {p50:.1f} / p90 {p90:.1f} / p99 {p99:.1f} ms;"
        f" CPU {own_cpu / sent * 1e6:.1f} us per record hier, {broker_cpu / sent * 1e6:.1f} in de broker"
    )


async def main(rate: int, seconds: int, configs: list[tuple[int, int]]) -> None:
    broker = EmbeddedBroker()
    await broker.start()
    try:
        for within_ms, wait_ms in configs:
            print(await measure(broker, rate, seconds, within_ms, wait_ms), flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.consumer_delay",
        description="Vertraging van versturen tot overdracht door de batchconsumer, per manier van fetchen.",
    )
    parser.add_argument("--rate", type=int, default=2500, help="records per seconde")
    parser.add_argument("--seconds", type=int, default=8, help="seconden per configuratie")
    parser.add_argument(
        "--configs",
        type=lambda text: [tuple(int(part) for part in item.split(":")) for item in text.split(",")],
        default=[(10, 40), (0, 40), (0, 20)],
        help="vullen-in-ms:fetch-wacht-in-ms, komma-gescheiden, in deze volgorde",
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rate, arguments.seconds, arguments.configs))
