"""Facts to the facts topic, in the partitions of their entity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stroom_platform.kafka.sending import RecordBatchSender
from stroom_platform.partitioner import entity_partitions


async def send_all(
    producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes, bytes]]
) -> list[asyncio.Future[Any]]:
    """Queue (key, value) facts as record batches; a future per batch, done once acknowledged."""
    sender = RecordBatchSender(producer, topic, many=entity_partitions)
    return await sender.send_values(records)
