"""Turns batches of Kafka records into ledger writes and facts, at least once, in a pipeline."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_caseload.domain.events import Decoded
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.publishing import send_all
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import Applied, EventBatch, Folds, Outgoing, apply_events, apply_transaction
from stroom_contract.kafka_binding import Undecodable, decode_wire
from stroom_contract.redaction import redact
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.dialect import LockingTransactions
from stroom_platform.kafka.consuming import Record
from stroom_platform.kafka.dead_letters import Refusal, dead_letter
from stroom_platform.tasks import cancel_and_wait

# A batch passes four stages, each its own task so that they overlap: decoding (in the
# agent), one database transaction (the ledger, the state, dead letters), queueing its facts
# with the producer, and awaiting the broker's acknowledgement of them. Its records are
# acknowledged, and so become committable, only when the broker has acknowledged those facts.
# A crash anywhere before that redelivers the batch, and redelivery
# is harmless: duplicates change nothing and republish their entities' full changes (which heals a
# change lost between the commit and its publication).
log = logging.getLogger(__name__)
T = TypeVar("T")
# SQLSTATE classes worth another try: connection, transaction rollback (deadlocks,
# serialisation), insufficient resources, operator intervention, system errors.
_TRANSIENT_STATES = ("08", "40", "53", "57", "58", "55P03")
# A record that reuses an event's (source, id) for another type or other data: the first stored
# stands, this one is dead-lettered.
CONFLICT_REASON = Refusal.CONFLICT.reason("(source, id) is al opgeslagen met andere inhoud")
# Records decoded between two looks at the event loop. Decoding a full batch takes over 100 ms
# of CPU, and a transaction whose statement came back meanwhile would wait for all of it, once per
# statement: the database's work then adds to a batch's delay instead of overlapping the decoding.
_DECODE_CHUNK = 64
# How long start-up waits for the database to be ready for the first batch.
_WARM_SECONDS = 5.0


@dataclass(slots=True)
class _Batch:
    decoded: list[tuple[Record, Decoded]]
    poison: list[tuple[Record, str]]
    done: Callable[[], None]
    # When the oldest of its records was accepted (seconds), if they say.
    accepted: float | None = None
    started: float = field(default_factory=time.perf_counter)

    @staticmethod
    def joined(batches: list[_Batch]) -> _Batch:
        """Batches as one, done in the order they came."""
        if len(batches) == 1:
            return batches[0]

        def done() -> None:
            for batch in batches:
                batch.done()

        decoded = [item for batch in batches for item in batch.decoded]
        poison = [item for batch in batches for item in batch.poison]
        accepted = min((b.accepted for b in batches if b.accepted is not None), default=None)
        return _Batch(decoded, poison, done, accepted, batches[0].started)

    def __len__(self) -> int:
        return len(self.decoded) + len(self.poison)


# A batch, its facts and its dead letters (poison, unappliable and conflicting records); once
# sent, with the broker's acknowledgements of them.
_Applied = tuple[_Batch, list[Outgoing], list[tuple[Record, str]]]
_Sent = tuple[_Batch, list[Outgoing], list[tuple[Record, str]], list["asyncio.Future[Any]"]]


class _Rollback(Exception):
    """Ends a trial transaction."""


def _cause(exc: Exception) -> str:
    """The driver's words, not SQLAlchemy's, which add the statement and every parameter."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return redact(f"{type(cause).__name__}: {cause}")[:500]


def transient(exc: DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return str(state).startswith(_TRANSIENT_STATES)
    # SQLite names no states: a locked database is an OperationalError, bad data is not.
    return not isinstance(exc, DataError | IntegrityError | ProgrammingError)


async def _persist(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """Try until it works: giving up would acknowledge, and so lose, the batch."""
    delay = 0.5
    while True:
        try:
            return await attempt()
        except Exception:
            log.exception(f"{what} mislukt; opnieuw proberen", extra={"delay": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


class Processor:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        municipalities: Collection[str],
        facts_topic: str,
        dead_letter_topic: str,
        metrics: CaseloadMetrics,
        *,
        transaction_events: int,
        folded_entities: int,
    ) -> None:
        # The batches' transactions follow one another (this worker's one `_apply_loop`).
        self.transactions = LockingTransactions(engine)
        self.producer = producer
        # No pseudonymiser: a raw BSN on the topic is a poison record, never stored.
        self.validator = EventValidator(None, municipalities)
        self.facts_topic = facts_topic
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics
        self.last_event_time: datetime | None = None
        self.folds = Folds(folded_entities)
        # Decoded batches wait here for the next transaction, which takes all of them: bounded
        # by events (`transaction_events`), not batches, so that what arrives while a
        # transaction runs is fetched and goes into the next one rather than waiting in the
        # broker for the one after.
        self._to_apply: asyncio.Queue[_Batch] = asyncio.Queue()
        self._transaction_events = transaction_events
        self._waiting_events = 0
        self._room = asyncio.Event()
        self._room.set()
        # Batches applied whose facts are not queued with the producer yet. Queueing waits while
        # the partition's batch before is unsent, and the producer has one request at a time
        # in flight: the next transaction runs meanwhile instead of waiting for the broker.
        self._to_send: asyncio.Queue[_Applied] = asyncio.Queue(maxsize=16)
        # Batches whose facts the broker has not acknowledged yet: the database does not wait
        # for the broker's answers, only when that many are outstanding.
        self._to_confirm: asyncio.Queue[_Sent] = asyncio.Queue(maxsize=16)
        self._tasks: list[asyncio.Task[None]] = []

    async def warm(self) -> None:
        """Opens the transactions' connection before the worker joins its group. Otherwise its
        first batch waits for it (a new PostgreSQL backend, the engine's first connect: 16-165 ms
        measured under load, where a transaction on it takes 0.2-4), and near a full machine the
        queue that builds up meanwhile takes seconds to drain. Should the database not answer
        soon, the worker starts all the same and its first batch tries again."""
        try:
            async with (
                asyncio.timeout(_WARM_SECONDS),
                apply_transaction(self.transactions, EventBatch.of([])),
            ):
                pass
        except (TimeoutError, DBAPIError, OSError) as exc:
            log.info(
                "verbinden met de database voor de eerste batch mislukt", extra={"error": type(exc).__name__}
            )

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._apply_loop()),
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._confirm_loop()),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        await self.transactions.close()

    async def submit(self, records: Sequence[Record], done: Callable[[], None]) -> None:
        """Decode a batch and queue it; `done` is called once its effects are durable and published."""
        accepted = min((r.timestamp for r in records if r.timestamp is not None), default=None)
        self._observe(accepted, "fetched")
        decoded: list[tuple[Record, Decoded]] = []
        poison: list[tuple[Record, str]] = []
        for position, record in enumerate(records):
            if position and not position % _DECODE_CHUNK:
                # A transaction whose statement has come back goes on meanwhile (see _DECODE_CHUNK).
                await asyncio.sleep(0)
            try:
                if record.value is None:
                    raise Undecodable("het record heeft geen waarde")
                # The JSON form goes along: the ledger keeps it rather than the envelope's again.
                wire = decode_wire(record.value, record.headers)
                envelope = self.validator.validate(wire)
                decoded.append((record, Decoded(envelope, wire, record.partition)))
            except InvalidEvent as exc:
                poison.append((record, Refusal.CONTRACT.reason(str(exc))))
            except Undecodable as exc:
                poison.append((record, Refusal.UNDECODABLE.reason(str(exc))))
            except ValueError as exc:
                # Named by its kind only: an unforeseen error's text may quote the record.
                unforeseen = f"niet te lezen als event ({type(exc).__name__})"
                poison.append((record, Refusal.UNDECODABLE.reason(unforeseen)))
        while self._waiting_events >= self._transaction_events:
            self._room.clear()
            await self._room.wait()
        self._waiting_events += len(records)
        batch = _Batch(decoded, poison, done, accepted)
        self._to_apply.put_nowait(batch)
        self._reached(batch, "decoded")

    def _next(self, first: _Batch) -> _Batch:
        """`first` and everything queued behind it, as one batch: a transaction's own cost is paid
        once for all of it, so a worker behind catches up instead of falling further. `submit`
        keeps that under `transaction_events` and one batch."""
        batches = [first]
        while not self._to_apply.empty():
            batches.append(self._to_apply.get_nowait())
        batch = _Batch.joined(batches)
        self._waiting_events -= len(batch)
        self._room.set()
        return batch

    async def _apply_loop(self) -> None:
        while True:
            batch = self._next(await self._to_apply.get())
            self._reached(batch, "started")
            facts, dead = await _persist(functools.partial(self._apply, batch), "verwerken van een batch")
            self._reached(batch, "applied")
            for _, event in batch.decoded:
                if self.last_event_time is None or event.envelope.time > self.last_event_time:
                    self.last_event_time = event.envelope.time
            await self._to_send.put((batch, facts, dead))

    async def _send_loop(self) -> None:
        """Facts queued with the producer batch after batch, in the order they were applied."""
        while True:
            batch, facts, dead = await self._to_send.get()
            # Queued again in full if queueing fails (the broker away): facts repeat harmlessly.
            futures = await _persist(functools.partial(self._send, facts, dead), "publiceren van feiten")
            self._reached(batch, "queued")
            await self._to_confirm.put((batch, facts, dead, futures))

    async def _confirm_loop(self) -> None:
        while True:
            batch, facts, dead, futures = await self._to_confirm.get()
            try:
                await asyncio.gather(*futures)
            except Exception:
                # The database has the effects; what the broker refused is sent again.
                await _persist(functools.partial(self._publish, facts, dead), "publiceren van feiten")
            batch.done()
            self._reached(batch, "published")
            self.metrics.apply_seconds.observe(time.perf_counter() - batch.started)
            stamps = [record.timestamp for record, _ in batch.decoded if record.timestamp is not None]
            if stamps:
                self.metrics.freshness.set(max(0.0, time.time() - max(stamps)))

    def _reached(self, batch: _Batch, stage: str) -> None:
        self._observe(batch.accepted, stage)

    def _observe(self, accepted: float | None, stage: str) -> None:
        if accepted is not None:
            self.metrics.delay.labels(stage).observe(max(0.0, time.time() - accepted))

    async def _publish(self, facts: list[Outgoing], poison: list[tuple[Record, str]]) -> None:
        await asyncio.gather(*await self._send(facts, poison))

    async def _apply(self, batch: _Batch) -> tuple[list[Outgoing], list[tuple[Record, str]]]:
        """One transaction for the batch; when it fails for a reason other than a passing database
        problem, the events that cannot be applied are found, dead-lettered, and the rest applied.
        Returns the facts and every dead letter. The batch is left as it came: this is tried
        again from the start when it fails."""
        try:
            return await self._commit(batch.decoded, batch.poison)
        except Exception as exc:
            if not batch.decoded:
                raise
            log.warning("batch mislukt; de falende events worden afgezonderd", extra={"error": _cause(exc)})
        good, bad = await self._isolate(batch.decoded)
        return await self._commit(good, [*batch.poison, *bad])

    async def _commit(
        self, decoded: list[tuple[Record, Decoded]], poison: list[tuple[Record, str]]
    ) -> tuple[list[Outgoing], list[tuple[Record, str]]]:
        """Apply the events and record the dead letters, those given and the records that reuse a
        stored event's (source, id) for other content, in one transaction."""

        batch = EventBatch.of([event for _, event in decoded])

        async def work(conn: AsyncConnection) -> tuple[Applied, list[tuple[Record, str]]]:
            applied = await apply_events(conn, batch, folds=self.folds, locked=True)
            conflicting = [(decoded[i][0], CONFLICT_REASON) for i in applied.conflicts]
            if poison or conflicting:
                letters = [(r.topic, r.partition, r.offset, why) for r, why in [*poison, *conflicting]]
                await CaseloadRepository(conn).record_dead_letters(letters)
            return applied, conflicting

        applied, conflicting = await self._transaction(batch, work)
        self.folds.keep(applied.folded)
        self.metrics.duplicates.inc(applied.duplicates)
        self.metrics.conflicts.inc(len(conflicting))
        for event_type, count in applied.new_by_type.items():
            self.metrics.applied.labels(event_type).inc(count)
        return applied.facts, [*poison, *conflicting]

    async def _isolate(
        self, decoded: list[tuple[Record, Decoded]]
    ) -> tuple[list[tuple[Record, Decoded]], list[tuple[Record, str]]]:
        """Halve until each failing event stands alone; every trial is rolled back."""

        async def trial(conn: AsyncConnection) -> None:
            await apply_events(conn, batch, locked=True)
            raise _Rollback

        try:
            # Inside: an event that cannot even be read for its apply fails its trial too.
            batch = EventBatch.of([event for _, event in decoded])
            await self._transaction(batch, trial)
        except _Rollback:
            return decoded, []
        except Exception as exc:
            if len(decoded) == 1:
                refusal = Refusal.UNAPPLIABLE.reason(f"de database weigert het event: {_cause(exc)}")
                return [], [(decoded[0][0], refusal)]
        half = len(decoded) // 2
        good, bad = await self._isolate(decoded[:half])
        more_good, more_bad = await self._isolate(decoded[half:])
        return good + more_good, bad + more_bad

    async def _transaction(self, batch: EventBatch, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        delay = 0.05
        while True:
            try:
                async with apply_transaction(self.transactions, batch) as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if not transient(exc):
                    raise
                # Deadlocks between workers and lost connections are worth another try; the
                # batch is not acknowledged until it succeeds, so nothing is skipped.
                log.warning(
                    "verwerking mislukt; opnieuw", extra={"error": type(exc.orig).__name__, "delay": delay}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _send(
        self, facts: list[Outgoing], poison: list[tuple[Record, str]]
    ) -> list[asyncio.Future[Any]]:
        futures = await send_all(self.producer, self.facts_topic, ((f.key.encode(), f.value) for f in facts))
        futures.extend(await dead_letter(self.producer, self.dead_letter_topic, poison))
        self.metrics.facts.inc(len(facts))
        self.metrics.dead_letters.inc(len(poison))
        return futures
