"""How far a consumer group is behind: the one calculation every service's status uses."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition

from stroom_platform.kafka.clients import Broker, BrokerProfile

READINESS_TIMEOUT_SECONDS = 3.0
TAIL_WAIT_MS = 1000
# More records than a record batch can hold (a batch is at most a few MB).
TAIL_RECORDS = 10_000_000


def partition_lag(end: int | None, committed: int | None, start: int = 0) -> int | None:
    """Records between the group's committed offset and the log end; None when the end is unknown.

    Never negative: a committed offset past the end seen (an end read before the last records
    arrived, or an end reported at a record batch's start) means the group is at the end. A
    group that has committed nothing is behind by everything from the log start on.
    """
    if end is None:
        return None
    position = committed if committed is not None else start
    return max(0, end - position)


class EndUnknown(Exception):
    """A partition's last record batch could not be read in time, so its end is not known."""


async def end_offsets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    profile: BrokerProfile,
    wait_ms: int = TAIL_WAIT_MS,
) -> dict[TopicPartition, int]:
    """The offset after each partition's last record. Where the profile says the broker reports
    the last record batch's start instead, that batch is fetched, which moves `consumer`'s
    assignment and positions; EndUnknown when a fetch brings nothing within `wait_ms`."""
    reported: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    ends = dict(reported)
    tails = [tp for tp in tps if reported[tp] > 0]
    if not profile.end_offset_at_last_batch or not tails:
        return ends
    consumer.assign(tails)
    for tp in tails:
        consumer.seek(tp, reported[tp] - 1)
    pending = set(tails)
    while pending:
        # All of the fetched batch at once: a poll's record limit would end it early.
        fetched = await consumer.getmany(*pending, timeout_ms=wait_ms, max_records=TAIL_RECORDS)
        if not fetched:
            # The batch's start is no end: a group committed up to it would read as caught up
            # with the whole batch unread, and a pipeline waiting for lag 0 would stop too soon.
            raise EndUnknown(", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(pending)))
        for tp, records in fetched.items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                pending.discard(tp)
    return ends


class PartitionLag(NamedTuple):
    committed: int | None
    end: int
    lag: int


class LagProbe:
    """Reads a group's committed offsets and a topic's end offsets without joining the group."""

    def __init__(self, broker: Broker, group: str, topic: str) -> None:
        self.topic = topic
        self._profile = broker.profile
        self._consumer = broker.consumer(group_id=group)

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def lag(self) -> dict[int, int]:
        """Per partition of the topic, how many records the group has not committed yet."""
        return {partition: behind.lag for partition, behind in (await self.positions()).items()}

    async def positions(self) -> dict[int, PartitionLag]:
        """Per partition of the topic, the group's committed offset, the log end and the lag."""
        await self._consumer.topics()  # refreshes the metadata
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        ends = await end_offsets(self._consumer, tps, self._profile)
        starts = await self._consumer.beginning_offsets(tps)
        found = {}
        for tp in tps:
            committed = await self._consumer.committed(tp)
            lag = partition_lag(ends[tp], committed, starts[tp]) or 0
            found[tp.partition] = PartitionLag(committed, ends[tp], lag)
        return found

    async def check_broker(self) -> None:
        """A metadata round trip: raises when the broker does not answer."""
        await asyncio.wait_for(self._consumer.topics(), READINESS_TIMEOUT_SECONDS)
