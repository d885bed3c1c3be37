"""Broker differences are settings of a profile: Apache Kafka gets idempotent producers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import PROFILES, Broker, BrokerProfile, broker_of
from stroom_platform.kafka.lag import EndUnknown, end_offsets
from stroom_platform.settings import CommonSettings

# Long enough for the tail fetch's answer on a loaded machine: the status pages' second
# (TAIL_WAIT_MS) would make these tests measure the machine, not what the broker answers.
ANSWERED_MS = 60_000


def test_the_profile_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("STROOM_BROKER_PROFILE", "apache")
    assert broker_of(CommonSettings()) == Broker("kafka-1:9092,kafka-2:9092", PROFILES["apache"])
    monkeypatch.delenv("STROOM_BROKER_PROFILE")
    assert broker_of(CommonSettings()).profile == PROFILES["embedded"]
    assert PROFILES["apache"].idempotent_producers
    assert not PROFILES["embedded"].idempotent_producers


async def test_producers_are_idempotent_in_the_apache_profile_only(
    broker: EmbeddedBroker, unique_topic: str
) -> None:
    """An idempotent producer first asks the broker for a producer id, which the embedded broker
    refuses: the Apache profile's producer fails there, the embedded profile's sends."""
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(unique_topic, 1)])

    async def send(profile: BrokerProfile) -> None:
        producer = Broker(broker.bootstrap_servers, profile).producer(request_timeout_ms=5000)
        await producer.start()
        try:
            await producer.send_and_wait(unique_topic, profile.name.encode(), partition=0)
        finally:
            await producer.stop()

    await send(PROFILES["embedded"])
    with pytest.raises(KafkaError):
        await send(PROFILES["apache"])


def test_an_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROOM_BROKER_PROFILE", "confluent")
    with pytest.raises(ValueError, match="broker_profile"):
        CommonSettings()


async def test_end_offsets_per_profile_on_the_embedded_broker(
    broker: EmbeddedBroker, unique_topic: str
) -> None:
    """The embedded broker reports the last batch's start + 1 as the end; its profile reads past it."""
    async with _reading_one_batch_of_five(broker, unique_topic) as (consumer, tp):
        assert await end_offsets(consumer, [tp], PROFILES["embedded"], ANSWERED_MS) == {tp: 5}
        # Taken at its word, the embedded broker's answer would hide four records.
        assert await end_offsets(consumer, [tp], PROFILES["apache"]) == {tp: 1}


async def test_an_end_not_confirmed_in_time_is_unknown_not_the_last_batch_start(
    broker: EmbeddedBroker, unique_topic: str
) -> None:
    """Taking the batch's start as the end would show a group at that start as caught up."""
    async with _reading_one_batch_of_five(broker, unique_topic) as (consumer, tp):
        # No wait at all: the tail fetch cannot have answered yet, as under a starved event loop.
        with pytest.raises(EndUnknown, match=f"{unique_topic}/0"):
            await end_offsets(consumer, [tp], PROFILES["embedded"], wait_ms=0)
        assert await end_offsets(consumer, [tp], PROFILES["embedded"], ANSWERED_MS) == {tp: 5}


@asynccontextmanager
async def _reading_one_batch_of_five(
    broker: EmbeddedBroker, topic: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    """Five records in one record batch on partition 0 of a new topic, and a started consumer of the
    embedded profile with that partition."""
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(topic, 1)])
    embedded = Broker(broker.bootstrap_servers, PROFILES["embedded"])
    producer = embedded.producer(linger_ms=50)
    await producer.start()
    try:
        batch = producer.create_batch()
        for n in range(5):
            batch.append(key=b"k", value=str(n).encode(), timestamp=None)
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()
    consumer = embedded.consumer()
    await consumer.start()
    try:
        yield consumer, TopicPartition(topic, 0)
    finally:
        await consumer.stop()


async def test_a_consumer_waits_on_an_empty_fetch_as_long_as_its_profile_says() -> None:
    """The embedded broker notices records that arrive during an empty fetch late, and every
    fetch costs it CPU: its consumers ask for a short wait, Apache Kafka's for a long one, unless
    told."""
    embedded = Broker("127.0.0.1:9092", PROFILES["embedded"])
    apache = Broker("127.0.0.1:9092", PROFILES["apache"])
    # aiokafka keeps the setting only in a private attribute.
    assert embedded.consumer()._fetch_max_wait_ms == PROFILES["embedded"].fetch_max_wait_ms == 40
    assert apache.consumer()._fetch_max_wait_ms == PROFILES["apache"].fetch_max_wait_ms == 500
    assert embedded.consumer(fetch_max_wait_ms=250)._fetch_max_wait_ms == 250
