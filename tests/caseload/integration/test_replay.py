"""The rebuild's replay reads every record of a partition, also where the broker reports the end
of a partition at the start of its last record batch and a poll stops inside that batch."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition

from caseload.integration.test_consumer import settings_for
from stroom_caseload.domain.events import Decoded
from stroom_caseload.rebuild.replay import Replayer
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import broker_of

RECORDS = 7000  # more than one poll gives (5,000), all in the one record batch


async def test_a_replay_reads_the_whole_last_record_batch(
    broker: EmbeddedBroker, postgres_server_url: str
) -> None:
    settings = settings_for(broker, postgres_server_url, topic_partitions=1)
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(settings.events_topic, 1)])
    replayer = Replayer(settings)
    sender = broker_of(settings).producer(max_batch_size=4 * 1024 * 1024, linger_ms=50)
    await sender.start()
    try:
        batch = sender.create_batch()
        for n in range(RECORDS):
            assert batch.append(key=b"k", value=f"not an event {n}".encode(), timestamp=None) is not None
        await (await sender.send_batch(batch, settings.events_topic, partition=0))
    finally:
        await sender.stop()

    tps = await replayer.start()
    try:
        ends = await replayer.ends(tps)
        assert ends == {TopicPartition(settings.events_topic, 0): RECORDS}
        await replayer.assign(tps)
        loaded: list[Decoded] = []

        async def load(batch: Sequence[Decoded]) -> None:
            loaded.extend(batch)

        await replayer.replay_until(load, ends)
    finally:
        await replayer.stop()
    # Every record was read (none is an event, so each is skipped, as a dead-lettered one is).
    assert replayer.records == RECORDS
    assert replayer.skipped == RECORDS
    assert loaded == []
