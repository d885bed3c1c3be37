"""Reading a dead-letter topic goes on to the end it had when reading began: a fetch that brings
nothing before then is no end, and a topic that cannot be read to its end in time fails loudly
instead of being listed or replayed in part."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka import dead_letters
from stroom_platform.kafka.clients import Broker, BrokerProfile
from stroom_platform.kafka.consuming import Record
from stroom_platform.kafka.dead_letters import DeadLettersUnread, dead_letter, read_dead_letters
from stroom_platform.kafka.lag import end_offsets


async def _refused(broker: EmbeddedBroker, topic: str, count: int) -> None:
    """`count` records dead-lettered to `topic`, one partition."""
    kafka = Broker(broker.bootstrap_servers)
    await ensure_topics(kafka.bootstrap_servers, [TopicSpec(topic, 1)])
    producer = kafka.producer()
    await producer.start()
    try:
        poison = [
            (Record("events", 0, n, b"k", b"{}", [("ce_id", f"ev-{n}".encode())]), "contract: x")
            for n in range(count)
        ]
        await asyncio.gather(*await dead_letter(producer, topic, poison))
    finally:
        await producer.stop()


def _empty_fetches_once_the_end_is_known(monkeypatch: pytest.MonkeyPatch, empty: int | None) -> None:
    """After the end offsets are read, the next `empty` fetches (all of them with None) bring
    nothing, as a broker that has nothing ready in time answers."""

    async def ends_then_stall(
        consumer: AIOKafkaConsumer, tps: list[TopicPartition], profile: BrokerProfile
    ) -> dict[TopicPartition, int]:
        ends = await end_offsets(consumer, tps, profile)
        fetch = consumer.getmany
        calls = 0

        async def stalled(*partitions: TopicPartition, **options: Any) -> dict[TopicPartition, list[Any]]:
            nonlocal calls
            calls += 1
            if empty is None or calls <= empty:
                await asyncio.sleep(0.05)
                return {}
            return await fetch(*partitions, **options)

        consumer.getmany = stalled  # type: ignore[method-assign]
        return ends

    monkeypatch.setattr(dead_letters, "end_offsets", ends_then_stall)


async def test_a_fetch_that_brings_nothing_before_the_end_does_not_cut_the_list_short(
    broker: EmbeddedBroker, unique_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _refused(broker, unique_topic, 3)
    _empty_fetches_once_the_end_is_known(monkeypatch, empty=2)
    letters = await read_dead_letters(Broker(broker.bootstrap_servers), unique_topic)
    assert [(letter.offset, letter.header("ce_id")) for letter in letters] == [
        (0, "ev-0"),
        (1, "ev-1"),
        (2, "ev-2"),
    ]


async def test_a_topic_not_read_to_its_end_in_time_fails_in_dutch(
    broker: EmbeddedBroker, unique_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _refused(broker, unique_topic, 3)
    _empty_fetches_once_the_end_is_known(monkeypatch, empty=None)
    with pytest.raises(DeadLettersUnread) as unread:
        await read_dead_letters(Broker(broker.bootstrap_servers), unique_topic, timeout_s=0.5)
    assert str(unread.value) == (
        f"de dode letters op {unique_topic} zijn niet binnen 0.5 s tot het eind gelezen "
        "(partitie 0 tot offset 0 van 3); er is niets getoond of opnieuw aangeboden, probeer het opnieuw"
    )
