"""Facts to the facts topic, in the partitions of their entity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stroom_platform.kafka.sending import ProducerRecord, RecordBatchSender
from stroom_platform.partitioner import entity_partition_for


async def send_all(
    producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes, bytes]]
) -> list[asyncio.Future[Any]]:
    """Queue (key, value) facts as record batches; a future per batch, done once acknowledged."""
    sender = RecordBatchSender(producer, topic, entity_partition_for)
    return await sender.send(ProducerRecord(key, value) for key, value in records)
