"""Lag is computed from committed offsets against the log end, and never reads negative."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.lag import LagProbe, partition_lag


def test_partition_lag() -> None:
    assert partition_lag(10, 4) == 6
    assert partition_lag(10, None) == 10
    assert partition_lag(10, None, start=7) == 3
    # A committed offset past the end seen: at the end, not -5 behind.
    assert partition_lag(10, 15) == 0
    assert partition_lag(None, 3) is None


async def test_probe_lag_would_have_gone_negative(broker: EmbeddedBroker, unique_topic: str) -> None:
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TopicSpec(unique_topic, 2)])
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(unique_topic, b"x", key=b"k", partition=0)
        await producer.send_and_wait(unique_topic, b"y", key=b"k", partition=1)
    finally:
        await producer.stop()
    group = f"lag-{unique_topic}"
    committer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    await committer.start()
    committer.assign([TopicPartition(unique_topic, 0)])
    try:
        # Committed far past the end of partition 0 (as a group that read an end the broker
        # reported too low would compare); nothing committed on partition 1.
        await committer.commit({TopicPartition(unique_topic, 0): 1000})
    finally:
        await committer.stop()
    probe = LagProbe(Broker(servers), group, unique_topic)
    await probe.start()
    try:
        await probe.check_broker()
        assert await probe.lag() == {0: 0, 1: 1}
    finally:
        await probe.stop()
