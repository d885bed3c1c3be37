"""Turns a batch of Kafka records into ledger writes and facts, at least once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import Outgoing, apply_events
from stroom_contract.events import Envelope
from stroom_contract.kafka_binding import decode_wire
from stroom_contract.redaction import redact
from stroom_contract.validation import EventValidator, InvalidEvent

# Order per batch: decode (poison records to the dead-letter topic), apply in one database
# transaction, publish the current fact of every touched entity and wait for the broker's
# acknowledgement; only then may the caller let the offsets be committed. A crash anywhere
# before that redelivers the batch, and redelivery is harmless (duplicates republish).
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def as_headers(raw: Any) -> list[tuple[str, bytes]]:
    items: Iterable[tuple[str, Any]] = raw.items() if isinstance(raw, Mapping) else (raw or ())
    return [(name, value if isinstance(value, bytes) else str(value).encode()) for name, value in items]


class Processor:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        municipalities: Collection[str],
        facts_topic: str,
        dead_letter_topic: str,
        metrics: CaseloadMetrics,
    ) -> None:
        self.engine = engine
        self.producer = producer
        # No pseudonymiser: a raw BSN on the topic is a poison record, never stored.
        self.validator = EventValidator(None, municipalities)
        self.facts_topic = facts_topic
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics
        self.last_event_time: datetime | None = None

    async def handle(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        envelopes: list[Envelope] = []
        poison: list[tuple[Record, str]] = []
        for record in records:
            try:
                if record.value is None:
                    raise ValueError("record without a value")
                envelopes.append(self.validator.validate(decode_wire(record.value, record.headers)))
            except InvalidEvent as exc:
                poison.append((record, redact(f"contract: {exc}")))
            except (ValueError, UnicodeDecodeError, ValidationError) as exc:
                poison.append((record, redact(f"undecodable: {type(exc).__name__}: {exc}")))
        facts = await self._apply_with_retry(envelopes, poison)
        await self._send(facts, poison)
        for envelope in envelopes:
            if self.last_event_time is None or envelope.time > self.last_event_time:
                self.last_event_time = envelope.time
        self.metrics.apply_seconds.observe(time.perf_counter() - started)

    async def _apply_with_retry(
        self, envelopes: list[Envelope], poison: list[tuple[Record, str]]
    ) -> list[Outgoing]:
        delay = 0.05
        while True:
            try:
                async with self.engine.begin() as conn:
                    applied = await apply_events(conn, envelopes)
                    repo = CaseloadRepository(conn)
                    for record, reason in poison:
                        await repo.record_dead_letter(record.topic, record.partition, record.offset, reason)
                break
            except DBAPIError as exc:
                # Deadlocks between workers and lost connections are worth another try; the
                # batch is not acknowledged until it succeeds, so nothing is skipped.
                log.warning(
                    "apply failed, retrying", extra={"error": type(exc.orig).__name__, "delay": delay}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.metrics.duplicates.inc(applied.duplicates)
        for event_type, count in applied.new_by_type.items():
            self.metrics.applied.labels(event_type).inc(count)
        return applied.facts

    async def _send(self, facts: list[Outgoing], poison: list[tuple[Record, str]]) -> None:
        futures = [await self.producer.send(self.facts_topic, f.value, key=f.key.encode()) for f in facts]
        for record, reason in poison:
            headers = [*record.headers, ("stroom_dead_letter_reason", reason[:1000].encode())]
            # A poison record may carry a raw BSN that intake should have replaced: mask it here.
            value = redact(record.value.decode(errors="replace")).encode() if record.value else None
            futures.append(
                await self.producer.send(self.dead_letter_topic, value, key=record.key, headers=headers)
            )
            log.warning(
                "dead-lettered a record", extra={"partition": record.partition, "offset": record.offset}
            )
        await asyncio.gather(*futures)
        self.metrics.facts.inc(len(facts))
        self.metrics.dead_letters.inc(len(poison))
