"""The dead-letter topic read back, and its records offered to the events topic again.

A record is dead-lettered when caseload cannot decode or apply it. Once the cause is fixed (a
municipality configured, a caseload release deployed), replaying puts each dead letter back on
the events topic with its own key and headers, without `dlq_reason`; what still fails is
dead-lettered again, what was applied meanwhile is a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition

from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.lag import end_offsets
from stroom_platform.partitioner import partition_for

REASON_HEADER = "dlq_reason"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for header, value in self.headers:
            if header == name:
                return value.decode(errors="replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(REASON_HEADER)


async def read_dead_letters(broker: Broker, topic: str) -> list[DeadLetter]:
    """Every record now on the dead-letter topic, in partition and offset order."""
    consumer = broker.consumer()
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the metadata
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        ends = await end_offsets(consumer, tps, broker.profile)
        found: list[DeadLetter] = []
        pending = [tp for tp in tps if ends[tp] > 0]
        consumer.assign(pending)
        for tp in pending:
            consumer.seek(tp, 0)
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000)
            if not fetched:
                break
            for tp, records in fetched.items():
                found.extend(
                    DeadLetter(r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in records
                    if r.offset < ends[tp]
                )
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.remove(tp)
        return sorted(found, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(broker: Broker, events_topic: str, letters: Sequence[DeadLetter]) -> int:
    """Publish the dead letters to the events topic again as they first came; returns how many."""
    producer = broker.producer(partitioner=partition_for)
    await producer.start()
    try:
        for letter in letters:
            headers = [(name, value) for name, value in letter.headers if name != REASON_HEADER]
            await producer.send(events_topic, letter.value, key=letter.key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    return len(letters)
