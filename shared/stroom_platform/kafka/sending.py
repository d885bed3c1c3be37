"""Many records to one topic as whole record batches, in order per partition: the one way
Stroom publishes (intake's relay, caseload's facts and its rebuild's republication).

Filling record batches directly skips the producer's per-record bookkeeping in `send`, which
costs more than everything else a publisher does per record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer

from stroom_platform.partitioner import partition_for

Partitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]
# The partitions of many keys at once, among all of the topic's.
ManyPartitioner = Callable[[Sequence[bytes], Sequence[int]], list[int]]


# A list: the record batch builder takes no other sequence.
Headers = list[tuple[str, bytes]] | None


class ProducerRecord(NamedTuple):
    key: bytes
    value: bytes | None
    headers: Headers = None
    timestamp_ms: int | None = None


class RecordBatchSender:
    """Sends to one topic with `partitioner`, the one the topic's other producers use, or with
    `many`, the same partitioner for all of a call's keys at once.

    With `remember_keys`, that many keys' partitions are kept between calls: for keys that recur
    (an entity's events) the partitioner, pure Python, is most of a sender's CPU time.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partitioner: Partitioner = partition_for,
        remember_keys: int = 0,
        many: ManyPartitioner | None = None,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self._partitioner = partitioner
        self._many = many
        self._remember_keys = remember_keys
        self._partitions: list[int] = []
        self._known: dict[bytes, int] = {}

    def _partition_of(self, partitions: list[int]) -> Callable[[bytes], int]:
        if partitions != self._partitions:
            self._partitions = partitions
            self._known.clear()
        partitioner = self._partitioner
        if not self._remember_keys:
            return lambda key: partitioner(key, partitions, partitions)
        known = self._known
        limit = self._remember_keys

        def partition_of(key: bytes) -> int:
            partition = known.get(key)
            if partition is None:
                if len(known) >= limit:
                    known.clear()
                partition = known[key] = partitioner(key, partitions, partitions)
            return partition

        return partition_of

    async def send(self, records: Iterable[ProducerRecord]) -> list[asyncio.Future[Any]]:
        """Queue `records`; returns once queued, with a future per record batch that is done when
        the broker has acknowledged it (the producer's `flush` waits for them all)."""
        listed = list(records)
        return await self._send([record.key for record in listed], listed)

    async def send_values(self, records: Iterable[tuple[bytes, bytes]]) -> list[asyncio.Future[Any]]:
        """As `send`, for (key, value) records without headers or a time of their own."""
        listed = list(records)
        keys = [key for key, _ in listed]
        return await self._send(keys, zip(keys, [value for _, value in listed], repeat(None), repeat(None)))

    async def _send(
        self, keys: list[bytes], records: Iterable[tuple[bytes, bytes | None, Headers, int | None]]
    ) -> list[asyncio.Future[Any]]:
        producer = self.producer
        partitions = sorted(await producer.partitions_for(self.topic))
        if self._many is None:
            chosen = list(map(self._partition_of(partitions), keys))
        else:
            chosen = self._many(keys, partitions)
        batches: dict[int, Any] = {}
        sent: list[asyncio.Future[Any]] = []
        for partition, (key, value, headers, stamp) in zip(chosen, records, strict=True):
            batch = batches.get(partition)
            if batch is None or batch.append(key=key, value=value, timestamp=stamp, headers=headers) is None:
                if batch is not None:
                    sent.append(await producer.send_batch(batch, self.topic, partition=partition))
                # An empty batch takes any one record, however large.
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=stamp, headers=headers)
        for partition, batch in batches.items():
            sent.append(await producer.send_batch(batch, self.topic, partition=partition))
        return sent
