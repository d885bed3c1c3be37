"""The one batch consumer: a service's handler gets records a batch at a time, and offsets are
committed only once the handler says the batch's work is durable.

The handler may finish a batch after it returns (caseload overlaps decoding, its transaction and
publishing its facts): it calls `done` when the batch is durable. Batches are done in the order
they were handed over. A crash before `done` redelivers the batch; every handler is built so that
redelivery is harmless (caseload's ledger, reporting's highest revision).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from stroom_platform.kafka.clients import Broker
from stroom_platform.tasks import cancel_and_wait

log = logging.getLogger(__name__)
# How long an idle consumer waits for a first record before it looks whether to rewind.
_IDLE_WAIT_SECONDS = 0.5


class Record(NamedTuple):
    """A fetched record as the handler gets it: a named tuple, made for every record fetched in a
    third of the time of a frozen dataclass, which sets each field through `object.__setattr__`."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    # The record's time in seconds: intake's relay stamps it with the event's acceptance.
    timestamp: float | None = None


Done = Callable[[], None]


class _Done(Protocol):
    def __call__(self, failed: bool = False) -> None: ...


Handler = Callable[[Sequence[Record], Done], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    batch_size: int = 2000
    # How long to go on filling a batch once its first record is in.
    batch_within_seconds: float = 0.2
    # How long the broker may hold a fetch for records to arrive; None: the broker profile's.
    fetch_max_wait_ms: int | None = None
    commit_interval_seconds: float = 0.5
    # Short group timeouts: the first join waits about half a session, and a dead worker's
    # partitions move to the others within one session.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 500
    rebalance_timeout_ms: int = 2000


class BatchConsumer:
    """One member of `group` on `topic`, reading from the earliest offset when it has none."""

    def __init__(
        self, broker: Broker, topic: str, group: str, handler: Handler, options: ConsumerOptions
    ) -> None:
        self.topic = topic
        self.group = group
        self._handler = handler
        self._options = options
        self._consumer = broker.consumer(
            group_id=group,
            auto_offset_reset="earliest",
            max_poll_records=options.batch_size,
            **({} if options.fetch_max_wait_ms is None else {"fetch_max_wait_ms": options.fetch_max_wait_ms}),
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
            rebalance_timeout_ms=options.rebalance_timeout_ms,
        )
        # Offsets of batches done, not yet committed; dropped for partitions that were revoked.
        self._committable: dict[TopicPartition, int] = {}
        self._in_flight = 0
        self._settled = asyncio.Event()
        self._settled.set()
        # Bumped when partitions are revoked or rewound: batches of before are not committed.
        self._generation = 0
        self._rewind = False
        self._tasks: list[asyncio.Task[None]] = []
        self.last_batch_at: datetime | None = None
        self.last_error: str | None = None

    async def start(self) -> None:
        self._consumer.subscribe([self.topic], listener=_Listener(self))
        await self._consumer.start()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"consume-{self.topic}"),
            asyncio.create_task(self._commit_loop(), name=f"commit-{self.topic}"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        with contextlib.suppress(KafkaError, OSError):
            await self._commit()
        await self._consumer.stop()

    def assignment(self) -> list[int]:
        return sorted(tp.partition for tp in self._consumer.assignment())

    async def check_broker(self) -> None:
        """A metadata round trip: raises when the broker does not answer."""
        await asyncio.wait_for(self._consumer.topics(), 3.0)

    async def rewind(self) -> None:
        """Read every assigned partition again from its start (a new broker log); done between
        batches, once those in flight are done, never beside a fetch."""
        self._rewind = True

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The broker away, say: the positions are where they were, so nothing is skipped.
                self.last_error = type(exc).__name__
                log.exception("lezen van het topic mislukt; opnieuw proberen", extra={"topic": self.topic})
                await asyncio.sleep(1.0)

    async def _step(self) -> None:
        if self._rewind:
            await self._rewind_now()
        batch = await self._fetch()
        if batch:
            await self._hand_over(batch)

    async def _hand_over(self, batch: list[Record]) -> None:
        starts: dict[TopicPartition, int] = {}
        ends: dict[TopicPartition, int] = {}
        for record in batch:
            tp = TopicPartition(record.topic, record.partition)
            starts.setdefault(tp, record.offset)
            ends[tp] = record.offset + 1
        self._in_flight += 1
        self._settled.clear()
        done = self._once(ends, self._generation)
        try:
            await self._handler(batch, done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Not done: the batch is read again after a pause (a database restart, say).
            done(failed=True)
            self.last_error = type(exc).__name__
            log.exception(
                "verwerken van een batch mislukt; de batch wordt opnieuw gelezen", extra={"topic": self.topic}
            )
            await asyncio.sleep(1.0)
            for tp, offset in starts.items():
                if tp in self._consumer.assignment():
                    self._consumer.seek(tp, offset)

    async def _fetch(self) -> list[Record]:
        """Records until the batch is full or `batch_within_seconds` after its first one."""
        options = self._options
        loop = asyncio.get_running_loop()
        batch: list[Record] = []
        deadline: float | None = None
        while len(batch) < options.batch_size and not self._rewind:
            wait = _IDLE_WAIT_SECONDS if deadline is None else deadline - loop.time()
            if wait <= 0:
                break
            fetched = await self._consumer.getmany(
                timeout_ms=int(wait * 1000), max_records=options.batch_size - len(batch)
            )
            for messages in fetched.values():
                batch.extend(
                    Record(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.key,
                        m.value,
                        m.headers,
                        None if m.timestamp is None else m.timestamp / 1000,
                    )
                    for m in messages
                )
            if not batch:
                return batch
            if deadline is None:
                deadline = loop.time() + options.batch_within_seconds
        return batch

    def _once(self, ends: dict[TopicPartition, int], generation: int) -> _Done:
        called = False

        def done(failed: bool = False) -> None:
            nonlocal called
            if not called:
                called = True
                self._done({} if failed else ends, generation)

        return done

    def _done(self, ends: dict[TopicPartition, int], generation: int) -> None:
        if ends and generation == self._generation:
            for tp, offset in ends.items():
                self._committable[tp] = max(offset, self._committable.get(tp, 0))
            self.last_batch_at = datetime.now(UTC)
            self.last_error = None
        self._in_flight -= 1
        if self._in_flight == 0:
            self._settled.set()

    async def _commit(self) -> None:
        # A batch filled while a rebalance took some of its partitions away is handed over after
        # the revocation: those partitions' offsets are their new owner's to commit (the client
        # refuses them here, and kept for another try they would fail every commit after).
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in self._committable.items() if tp in assigned}
        self._committable = {}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except Exception:
            # Kept for the next round, unless newer offsets or a revocation came meanwhile.
            for tp, offset in offsets.items():
                self._committable.setdefault(tp, offset)
            raise

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self._options.commit_interval_seconds)
            try:
                await self._commit()
            except (KafkaError, OSError) as exc:
                log.warning(
                    "vastleggen van de offsets mislukt; opnieuw proberen", extra={"error": type(exc).__name__}
                )

    async def _rewind_now(self) -> None:
        await self._settled.wait()
        self._generation += 1
        self._committable.clear()
        assigned = list(self._consumer.assignment())
        if assigned:
            await self._consumer.seek_to_beginning(*assigned)
            # Committed at once: a restart before the first batch must not resume at the old
            # log's offsets. Should this fail, the rewind is tried again.
            starts = {tp: await self._consumer.position(tp) for tp in assigned}
            await self._consumer.commit(starts)
        self._rewind = False

    async def _revoked(self, revoked: list[TopicPartition]) -> None:
        """Before partitions go to another member: what is done of them is committed. Batches still
        in flight get half the rebalance timeout; later, they are not committed (read again)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), self._options.rebalance_timeout_ms / 2000)
        try:
            await self._commit()
        except (KafkaError, OSError) as exc:
            log.warning(
                "vastleggen van de offsets voor een herverdeling mislukt", extra={"error": type(exc).__name__}
            )
        self._generation += 1
        for tp in revoked:
            self._committable.pop(tp, None)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: BatchConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._consumer._revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Positions come from the group's committed offsets."""
