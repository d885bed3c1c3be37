"""The one batch consumer commits a batch's offsets only once its handler says it is durable,
reads a failed batch again, reads everything again from the start when rewound, and goes on
committing its own partitions after a rebalance took others away from a batch being filled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.consuming import BatchConsumer, ConsumerOptions, Done, Handler, Record
from stroom_platform.kafka.lag import LagProbe

OPTIONS = ConsumerOptions(batch_size=50, batch_within_seconds=0.05, commit_interval_seconds=0.1)


async def _filled(broker: EmbeddedBroker, topic: str, partitions: int, count: int) -> Broker:
    """The topic made with `partitions` and holding the values 0 to `count` - 1."""
    kafka = Broker(broker.bootstrap_servers)
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(topic, partitions)])
    producer = kafka.producer()
    await producer.start()
    try:
        for n in range(count):
            await producer.send(topic, str(n).encode(), key=f"k{n % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    return kafka


@asynccontextmanager
async def _consuming(
    kafka: Broker, topic: str, handler: Handler
) -> AsyncIterator[tuple[BatchConsumer, LagProbe]]:
    """One consumer of the topic in a group of its own, and the group's lag."""
    group = f"g-{topic}"
    consumer = BatchConsumer(kafka, topic, group, handler, OPTIONS)
    probe = LagProbe(kafka, group, topic)
    await consumer.start()
    await probe.start()
    try:
        yield consumer, probe
    finally:
        await probe.stop()
        await consumer.stop()


async def _until(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - the broker and the consumer's tasks move it
            await asyncio.sleep(0.05)


def _seen(values: list[bytes], count: int) -> Callable[[], Awaitable[bool]]:
    async def enough() -> bool:
        return len(values) >= count

    return enough


def _caught_up(probe: LagProbe) -> Callable[[], Awaitable[bool]]:
    async def caught_up() -> bool:
        return sum((await probe.lag()).values()) == 0

    return caught_up


async def test_offsets_wait_for_done_and_a_rewind_reads_all_again(
    broker: EmbeddedBroker, unique_topic: str
) -> None:
    kafka = await _filled(broker, unique_topic, 3, 120)
    seen: list[bytes] = []
    held: list[Done] = []

    async def handler(records: Sequence[Record], done: Done) -> None:
        seen.extend(record.value or b"" for record in records)
        held.append(done)

    async with _consuming(kafka, unique_topic, handler) as (consumer, probe):
        await _until(_seen(seen, 120))
        await asyncio.sleep(0.5)  # several commit rounds
        # Everything read, nothing durable yet: nothing committed.
        assert sum((await probe.lag()).values()) == 120
        for done in held:
            done()
        await _until(_caught_up(probe))
        assert await probe.lag() == {0: 0, 1: 0, 2: 0}
        assert sorted(seen) == sorted(str(n).encode() for n in range(120))

        held.clear()
        seen.clear()
        await consumer.rewind()
        await _until(_seen(seen, 120))
        assert sorted(seen) == sorted(str(n).encode() for n in range(120))
        # The start was committed before the first batch read again, and nothing since.
        assert sum((await probe.lag()).values()) == 120
        for done in held:
            done()
        await _until(_caught_up(probe))
        assert await probe.lag() == {0: 0, 1: 0, 2: 0}


async def test_a_failed_batch_is_read_again(broker: EmbeddedBroker, unique_topic: str) -> None:
    kafka = await _filled(broker, unique_topic, 1, 10)
    attempts: list[list[bytes]] = []

    async def handler(records: Sequence[Record], done: Done) -> None:
        attempts.append([record.value or b"" for record in records])
        if len(attempts) == 1:
            raise ConnectionError("the database went away")
        done()

    async with _consuming(kafka, unique_topic, handler) as (consumer, probe):
        await _until(_caught_up(probe))
        first = attempts[0]
        again = [value for attempt in attempts[1:] for value in attempt]
        assert again[: len(first)] == first
        assert sorted(again) == sorted(str(n).encode() for n in range(10))
        assert consumer.last_error is None


async def test_a_batch_read_across_a_rebalance_commits_what_stays_assigned(
    broker: EmbeddedBroker, unique_topic: str
) -> None:
    kafka = await _filled(broker, unique_topic, 2, 40)
    seen: list[bytes] = []

    async def handler(records: Sequence[Record], done: Done) -> None:
        seen.extend(record.value or b"" for record in records)
        done()

    group = f"g-{unique_topic}"
    # The first member fills one batch from both partitions for long enough that a second member
    # joins meanwhile: one partition is revoked before the batch is handed over, done and committed.
    first = BatchConsumer(
        kafka, unique_topic, group, handler, ConsumerOptions(batch_size=1000, batch_within_seconds=8.0)
    )
    second = BatchConsumer(kafka, unique_topic, group, handler, OPTIONS)
    probe = LagProbe(kafka, group, unique_topic)
    await first.start()
    await probe.start()
    try:
        await _until(_seen_assignment(first, 2))
        await asyncio.sleep(1.0)  # the first batch is being filled
        await second.start()
        try:
            await _until(_seen_assignment(second, 1))
            # The revoked partition's offsets are the new owner's to commit: committing them fails,
            # and must not keep the first member from committing its own partition's.
            await _until(_caught_up(probe))
            assert await probe.lag() == {0: 0, 1: 0}
            assert set(seen) == {str(n).encode() for n in range(40)}
        finally:
            await second.stop()
    finally:
        await probe.stop()
        await first.stop()


def _seen_assignment(consumer: BatchConsumer, count: int) -> Callable[[], Awaitable[bool]]:
    async def assigned() -> bool:
        return len(consumer.assignment()) == count

    return assigned
