"""What the consumer tests share: facts on a topic of the embedded broker, and the settings of a
reporting service that consumes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stroom_contract.facts import Fact
from stroom_reporting.settings import ReportingSettings


def records_of(facts: Iterable[Fact]) -> list[tuple[bytes, bytes]]:
    """Each fact as the caseload publishes it: its JSON, keyed by its entity."""
    return [(fact.model_dump_json().encode(), fact.entity.encode()) for fact in facts]


async def publish(bootstrap_servers: str, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Send each (value, key) to `topic`, one at a time and acknowledged, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        for value, key in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def consuming(url: str, bootstrap_servers: str, topic: str, **more: Any) -> ReportingSettings:
    """A reporting service on `url` consuming `topic` in a group of its own, polling every 100 ms."""
    return ReportingSettings(
        DATABASE_URL=url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        facts_topic=topic,
        consumer_group=f"g-{topic}",
        consumer_poll_ms=100,
        **more,
    )
