"""Many records to one topic as record batches per partition: the rebuild's republication and
the facts of a live batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stroom_platform.partitioner import entity_partition_for


async def send_all(
    producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes, bytes]]
) -> list[asyncio.Future[Any]]:
    """Queue (key, value) records, in order per partition, in the partitions the live facts
    producer picks; filling batches directly costs about half of a `send` per record. Returns once
    queued, with a future per record batch that is done when the broker has acknowledged it (the
    producer's `flush` waits for them all)."""
    partitions = sorted(await producer.partitions_for(topic))
    batches: dict[int, Any] = {}
    sent: list[asyncio.Future[Any]] = []
    for key, value in records:
        partition = entity_partition_for(key, partitions, partitions)
        batch = batches.get(partition)
        if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
            if batch is not None:
                sent.append(await producer.send_batch(batch, topic, partition=partition))
            # An empty batch takes any one record, however large.
            batch = batches[partition] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    for partition, batch in batches.items():
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent
