"""Kafka clients made for the broker they talk to.

Brokers differ in what they support. Those differences are settings of a broker profile
(`STROOM_BROKER_PROFILE`), never code paths: Apache Kafka gets idempotent producers, the
embedded broker (Tansu), which refuses them, does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stroom_platform.settings import BrokerProfileName, CommonSettings


@dataclass(frozen=True, slots=True)
class BrokerProfile:
    name: BrokerProfileName
    # Producers number their batches so that a retried send is written once.
    idempotent_producers: bool
    # ListOffsets(latest) answers the last record *batch's* base offset + 1 rather than the
    # log end (Tansu 0.x): the end is found by fetching that batch.
    end_offset_at_last_batch: bool
    # How long the broker may hold a fetch that finds nothing new. Apache Kafka answers as soon as
    # records arrive, so a long wait costs nothing. The embedded broker notices records that arrive
    # during the wait late (a lone record waited a median 4-5 ms with 20 ms, 6-8 ms with 40 ms,
    # 12-18 ms with 100 ms), and every fetch costs it CPU: an idle consumer fetches once per wait,
    # so there the wait is short, but not so short that idle consumers keep the broker busy.
    fetch_max_wait_ms: int
    # How long a publisher that is woken as records come (intake's relay) lets them gather before
    # it sends them again: what comes meanwhile goes out in the same record batches. The embedded
    # broker pays per stored batch, in every append and in every fetch, whose search runs over all
    # of a partition's batches; Apache Kafka pays little per batch and finds offsets in its index.
    publish_interval_ms: int


PROFILES: dict[BrokerProfileName, BrokerProfile] = {
    "apache": BrokerProfile(
        "apache",
        idempotent_producers=True,
        end_offset_at_last_batch=False,
        fetch_max_wait_ms=500,
        publish_interval_ms=0,
    ),
    "embedded": BrokerProfile(
        "embedded",
        idempotent_producers=False,
        end_offset_at_last_batch=True,
        fetch_max_wait_ms=40,
        publish_interval_ms=20,
    ),
}


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is and what it supports: every Kafka client of Stroom is made here."""

    bootstrap_servers: str
    profile: BrokerProfile = PROFILES["embedded"]

    def producer(self, **options: Any) -> AIOKafkaProducer:
        """A producer that waits for every in-sync replica (`acks=all`)."""
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=self.profile.idempotent_producers,
            **options,
        )

    def consumer(self, *topics: str, **options: Any) -> AIOKafkaConsumer:
        """A consumer that commits only when told to, its fetches held as long as the profile says
        unless `options` say otherwise."""
        options.setdefault("fetch_max_wait_ms", self.profile.fetch_max_wait_ms)
        return AIOKafkaConsumer(
            *topics, bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False, **options
        )


def broker_of(settings: CommonSettings) -> Broker:
    """The broker `KAFKA_BOOTSTRAP_SERVERS` names (Kafka's own default without), in its profile."""
    servers = settings.kafka_bootstrap_servers or "127.0.0.1:9092"
    return Broker(servers, PROFILES[settings.broker_profile])
