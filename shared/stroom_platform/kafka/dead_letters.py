"""The one dead-letter policy: a record a service cannot use goes to its dead-letter topic with
the reason and where it was read, and the rest of its batch is processed.

Once the cause is fixed (a municipality configured, a release deployed), replaying puts each dead
letter back on the topic it came from with its own key and headers; what still fails is
dead-lettered again, what was applied meanwhile is a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stroom_contract.redaction import redact
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.consuming import Record
from stroom_platform.kafka.lag import end_offsets
from stroom_platform.kafka.sending import Partitioner

log = logging.getLogger(__name__)
REASON_HEADER = "dlq_reason"
# How long reading a dead-letter topic up to its end may take before it gives up, loudly.
READ_TIMEOUT_S = 60.0


class Refusal(StrEnum):
    """Why a record was refused: the code its reason starts with, stable for operators to filter
    on; after a colon the reason says in Dutch what is wrong. README.md ("Dode letters") explains
    each code."""

    # Outside the events' or facts' contract (with the fields it breaks).
    CONTRACT = "contract"
    # No event's JSON form at all (no value, no JSON, headers that are no text).
    UNDECODABLE = "undecodable"
    # Within the contract, but the database refuses to store it.
    UNAPPLIABLE = "unappliable"
    # Reuses a stored event's (source, id) for other content; the stored event stands.
    CONFLICT = "conflict"

    def reason(self, text: str) -> str:
        """The reason a dead letter carries: the code, then `text`, which may quote no BSN."""
        return f"{self.value}: {redact(text)}"


# Where the record was read: topic, partition and offset.
POSITION_HEADER = "dlq_position"
_OWN_HEADERS = (REASON_HEADER, POSITION_HEADER)


async def dead_letter(
    producer: AIOKafkaProducer, topic: str, poison: Sequence[tuple[Record, str]]
) -> list[asyncio.Future[Any]]:
    """Queue each (record, reason) to `topic`; a future per record, done once acknowledged."""
    futures = []
    for record, reason in poison:
        position = f"{record.topic}/{record.partition}/{record.offset}"
        headers = [
            *record.headers,
            (REASON_HEADER, redact(reason)[:1000].encode()),
            (POSITION_HEADER, position.encode()),
        ]
        # A poison record may carry a raw BSN that intake should have replaced: mask it here.
        value = redact(record.value.decode(errors="replace")).encode() if record.value else None
        if value is None and record.key is None:
            # A producer sends no record without both, and a send that always fails would hold
            # up every batch after this one: what it was is in the headers.
            value = b""
        futures.append(await producer.send(topic, value, key=record.key, headers=headers))
        log.warning(
            "record naar het dead-letter-topic gestuurd", extra={"topic": record.topic, "position": position}
        )
    return futures


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for header, value in self.headers:
            if header == name:
                return value.decode(errors="replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(REASON_HEADER)

    @property
    def position(self) -> str:
        """`topic/partition/offset` of the record when it was refused."""
        return self.header(POSITION_HEADER)

    @property
    def read_at(self) -> tuple[str, int, int] | None:
        """`position` as (topic, partition, offset); None when the header is missing or not one
        (a topic's name holds no slash)."""
        topic, *numbers = self.position.rsplit("/", 2)
        if len(numbers) != 2 or not all(n.isdigit() for n in numbers):
            return None
        return topic, int(numbers[0]), int(numbers[1])

    @property
    def record_headers(self) -> list[tuple[str, bytes]]:
        """The refused record's headers, without the reason and position added to them."""
        return [(name, value) for name, value in self.headers if name not in _OWN_HEADERS]


class DeadLettersUnread(Exception):
    """The dead-letter topic could not be read up to its end in time; a list or replay of part of
    it would pass for all of it."""


async def read_dead_letters(
    broker: Broker, topic: str, timeout_s: float = READ_TIMEOUT_S
) -> list[DeadLetter]:
    """Every record on the dead-letter topic up to the end it had when reading began, in partition
    and offset order; DeadLettersUnread when that end is not reached within `timeout_s`."""
    consumer = broker.consumer()
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the metadata
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        ends = await end_offsets(consumer, tps, broker.profile)
        found: list[DeadLetter] = []
        pending = [tp for tp in tps if ends[tp] > 0]
        consumer.assign(pending)
        for tp in pending:
            consumer.seek(tp, 0)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while pending:
            # A fetch that brings nothing says only that the broker had nothing ready then.
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise DeadLettersUnread(await _unread(consumer, topic, pending, ends, timeout_s))
            fetched = await consumer.getmany(*pending, timeout_ms=max(1, int(min(left, 1.0) * 1000)))
            for tp, records in fetched.items():
                found.extend(
                    DeadLetter(r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in records
                    if r.offset < ends[tp]
                )
            # The position, not the last record: offsets without a record (compacted, transaction
            # markers) at the end would otherwise keep a partition pending forever.
            pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
        return sorted(found, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def _unread(
    consumer: AIOKafkaConsumer,
    topic: str,
    pending: list[TopicPartition],
    ends: dict[TopicPartition, int],
    timeout_s: float,
) -> str:
    where = ", ".join(
        [f"partitie {tp.partition} tot offset {await consumer.position(tp)} van {ends[tp]}" for tp in pending]
    )
    return (
        f"de dode letters op {topic} zijn niet binnen {timeout_s:g} s tot het eind gelezen ({where}); "
        "er is niets getoond of opnieuw aangeboden, probeer het opnieuw"
    )


async def replay(broker: Broker, topic: str, letters: Sequence[DeadLetter], partitioner: Partitioner) -> int:
    """Publish the dead letters to `topic` again as they first came, partitioned as its other
    producers do; returns how many."""
    producer = broker.producer(partitioner=partitioner)
    await producer.start()
    try:
        for letter in letters:
            await producer.send(topic, letter.value, key=letter.key, headers=letter.record_headers)
        await producer.flush()
    finally:
        await producer.stop()
    return len(letters)
