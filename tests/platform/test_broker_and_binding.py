"""The embedded broker speaks Kafka protocol and the CloudEvents binding round-trips."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.kafka_binding import decode, encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.organisations import OrganisationsConfig


async def test_event_round_trips_through_the_broker(
    broker: EmbeddedBroker,
    unique_topic: str,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(unique_topic, 3)])
    event = EventValidator(pseudonymiser, organisations.municipality_codes).validate(
        {
            "specversion": "1.0",
            "id": "p-1",
            "source": "gws/hoorn",
            "type": "stroom.placement.started.v1",
            "time": "2024-03-01T08:00:00Z",
            "data": {
                "placement_ref": "PL-9",
                "client": {"bsn": "111222333"},
                "municipality": "GM0405",
                "kind": "wage_subsidy",
                "start_date": "2024-03-01",
                "hours_per_week": 24,
            },
        }
    )
    value, headers = encode(event)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        key = entity_key(event)
        assert key == "placement:gws/hoorn:PL-9"
        await producer.send_and_wait(unique_topic, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        unique_topic, bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert b"111222333" not in record.value
    assert decode(record.value, record.headers) == event
    assert dict(record.headers)["ce_type"] == b"stroom.placement.started.v1"


async def test_the_broker_writes_its_own_log_and_leaves_no_file_unclosed(tmp_path: Path) -> None:
    log_file = tmp_path / "broker.log"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with EmbeddedBroker(log_file=log_file) as embedded:
            assert embedded.bootstrap_servers.startswith("127.0.0.1:")
        gc.collect()
    assert log_file.exists()
    assert [str(w.message) for w in caught if str(log_file) in str(w.message)] == []
