"""Publishing a raw history to the events topic the way intake does, and reading topics back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from conftest import OPERATOR
from running import app_client

from stroom_caseload.app import create_app
from stroom_caseload.settings import CaseloadSettings
from stroom_contract.kafka_binding import encode
from stroom_contract.keys import entity_key
from stroom_contract.retractions import retraction_key
from stroom_contract.validation import EventValidator


async def publish(
    bootstrap: str,
    topic: str,
    raw: list[dict[str, Any]],
    delivered: list[dict[str, Any]],
    validator: EventValidator,
) -> None:
    """Validate (pseudonymise) and publish; a retraction is keyed like the event it retracts."""
    keys: dict[tuple[str, str], str] = {}
    for event in raw:
        key = entity_key(validator.validate(event))
        if key:
            keys[(event["source"], event["id"])] = key
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for event in delivered:
            envelope = validator.validate(event)
            key = entity_key(envelope)
            if key is None:
                target = (event["source"], event["data"]["retracted_id"])
                key = keys.get(target, retraction_key(*target))
            value, headers = encode(envelope)
            await producer.send(topic, value, key=key.encode(), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def send_raw(
    bootstrap: str, topic: str, value: bytes, headers: list[tuple[str, bytes]], key: bytes = b"poison"
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record now on the topic."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.05)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        records = []
        # The embedded broker reports a partition's end as its last record batch's start + 1 (see
        # stroom_platform.kafka.lag.end_offsets): a position past it means that batch was read.
        while True:
            positions = [await consumer.position(tp) for tp in ends]
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(items)
            if not batch and all(p >= end for p, end in zip(positions, ends.values(), strict=True)):
                return records
    finally:
        await consumer.stop()


@asynccontextmanager
async def running_worker(
    settings: CaseloadSettings, headers: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A caseload worker (consumer and API) on `settings` while the block runs, and a client of
    its API sending `headers` with every request."""
    async with app_client(create_app(settings), "http://caseload", headers) as client:
        yield client


async def wait_until_caught_up(client: httpx.AsyncClient, within: float = 60.0) -> dict[str, Any]:
    """Polls /status until every partition's committed offset is at its end."""
    status: dict[str, Any] = {}
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    status = (await client.get("/status", headers=OPERATOR)).json()
                except httpx.TransportError:
                    status = {}
                if status.get("lag") is not None and status["total_lag"] == 0:
                    return status
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(f"not caught up: {status}") from None
