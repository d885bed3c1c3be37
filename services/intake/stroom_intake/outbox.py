"""The relay: publishes stored events to Kafka in sequence order, marking them once acknowledged.

Run standalone with `python -m stroom_intake.outbox` (settings from the environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_contract.kafka_binding import encode_wire
from stroom_intake import repository
from stroom_intake.migrations import MIGRATIONS
from stroom_intake.settings import IntakeSettings
from stroom_platform.broker import TopicSpec, broker_epoch, ensure_topics
from stroom_platform.db import require_migrated
from stroom_platform.dialect import try_session_lock
from stroom_platform.kafka.clients import Broker, broker_of
from stroom_platform.kafka.sending import ProducerRecord, RecordBatchSender
from stroom_platform.memory import freeze_startup_heap
from stroom_platform.partitioner import partition_for

log = logging.getLogger(__name__)
# pg_advisory_lock key of the intake relay ("stroom intake" in ASCII, truncated to 63 bits).
RELAY_LOCK_KEY = 0x7374726F6F6D69
# Keys whose partitions the relay remembers: an entity's events recur.
_REMEMBERED_KEYS = 500_000


class Relay:
    """One relay per database: PostgreSQL deployments hold an advisory lock while relaying."""

    def __init__(
        self,
        engine: AsyncEngine,
        broker: Broker,
        topic: str,
        *,
        partitions: int = 6,
        batch_size: int = 5000,
        poll_seconds: float = 1.0,
        max_batch_bytes: int = 1024 * 1024,
        on_published: Callable[[int], None] | None = None,
        epoch_check_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._broker = broker
        self._topic = topic
        self._partitions = partitions
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._max_batch_bytes = max_batch_bytes
        self._on_published = on_published
        self._epoch_check_seconds = epoch_check_seconds
        self._epoch_checked_at: float | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._sender: RecordBatchSender | None = None
        self.running = False
        self.broker_reachable: bool | None = None
        self.last_published_at: datetime | None = None

    def wake(self) -> None:
        """Called after new events were committed: publish now instead of at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Let `run` return after the batch in hand: cancelling mid-query would drop a connection."""
        self._stopping.set()
        self._wake.set()

    async def start(self) -> None:
        await ensure_topics(self._broker.bootstrap_servers, [TopicSpec(self._topic, self._partitions)])
        producer = self._broker.producer(
            linger_ms=5,
            max_batch_size=self._max_batch_bytes,
            max_request_size=8 * 1024 * 1024,
            partitioner=partition_for,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        self._sender = RecordBatchSender(producer, self._topic, partition_for, _REMEMBERED_KEYS)
        self.broker_reachable = True

    async def check_broker(self) -> None:
        """A metadata round trip to the broker; raises when it does not answer in time."""
        if self._producer is None:
            raise ConnectionError("het doorgeefproces heeft de broker nog niet bereikt")
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 3.0)

    async def _started(self) -> bool:
        if self._producer is not None:
            return True
        try:
            await self.start()
        except (KafkaError, OSError) as exc:
            self.broker_reachable = False
            log.warning("broker niet bereikbaar; later opnieuw", extra={"error": type(exc).__name__})
            return False
        return True

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
            self._sender = None

    async def run(self) -> None:
        """Relay until cancelled: take the lock, then publish whenever woken or polled.

        A broker that is down only delays publication: events wait in the outbox.
        """
        self.running = True
        loop = asyncio.get_running_loop()
        interval = self._broker.profile.publish_interval_ms / 1000
        try:
            async with self.exclusive():
                while not self._stopping.is_set():
                    began = loop.time()
                    if await self._started() and await self._epoch_current():
                        await self._drain_with_retry()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                    # Woken within the broker's publish interval: the commits still to come in it
                    # go out with this one, in the same record batches.
                    if (rest := began + interval - loop.time()) > 0 and not self._stopping.is_set():
                        await asyncio.sleep(rest)
                    self._wake.clear()
        finally:
            self.running = False
            await self.stop()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Wait until this is the only relay; on PostgreSQL the lock lives as long as the session.

        Meanwhile commits of any intake process wake the relay (PostgreSQL LISTEN/NOTIFY).
        """
        async with self._engine.connect() as conn:
            while not await try_session_lock(conn, RELAY_LOCK_KEY):
                await conn.commit()
                log.info("een ander doorgeefproces heeft het slot; wachten")
                await asyncio.sleep(self._poll_seconds)
            # Leave no transaction open on the lock's connection: notifications arrive while idle.
            await conn.commit()
            async with repository.stored_announcements(conn, self.wake):
                yield

    async def _epoch_current(self) -> bool:
        """Every few seconds, whether the broker still holds what was published; see `verify_epoch`."""
        now = asyncio.get_running_loop().time()
        if self._epoch_checked_at is not None and now - self._epoch_checked_at < self._epoch_check_seconds:
            return True
        try:
            await self.verify_epoch()
        except (TimeoutError, KafkaError, OSError) as exc:
            self.broker_reachable = False
            log.warning("broker-epoch onbekend; later opnieuw", extra={"error": type(exc).__name__})
            return False
        except Exception:
            log.exception("controleren van de broker-epoch mislukt; later opnieuw")
            return False
        self._epoch_checked_at = now
        return True

    async def verify_epoch(self) -> int:
        """When the broker's epoch is not the one the rows were marked published under, the
        broker may have lost them (the embedded broker keeps nothing across restarts): every
        row is published again. Consumers deduplicate by (source, id). Returns how many."""
        epoch = await broker_epoch(self._broker)
        async with self._engine.begin() as conn:
            if await repository.published_epoch(conn) == epoch:
                return 0
            again = await repository.republish_all(conn, epoch, datetime.now(UTC))
        await ensure_topics(self._broker.bootstrap_servers, [TopicSpec(self._topic, self._partitions)])
        if again:
            log.warning(
                "nieuwe broker-epoch: alle opgeslagen events worden opnieuw gepubliceerd",
                extra={"events": again},
            )
        return again

    async def _drain_with_retry(self) -> None:
        try:
            await self.drain()
        except KafkaError as exc:
            self.broker_reachable = False
            log.warning("publiceren mislukt; later opnieuw", extra={"error": type(exc).__name__})
        except Exception:
            # The database may be briefly unreachable; the next round tries again.
            log.exception("doorgeven mislukt; later opnieuw")

    async def drain(self) -> int:
        """Publish until nothing is unpublished; returns how many records were produced.

        One batch is read and sent while the broker acknowledges the one before.
        """
        assert self._producer is not None, "start() the relay first"
        self._wake.clear()
        total = 0
        after = 0
        in_flight: tuple[list[repository.Pending], list[asyncio.Future[Any]]] | None = None
        while not self._stopping.is_set():
            async with self._engine.connect() as conn:
                rows = await repository.unpublished(conn, self._batch_size, after=after)
            sent = (rows, await self._send(rows)) if rows else None
            if in_flight is not None:
                total += await self._settle(*in_flight)
            in_flight = sent
            if len(rows) < self._batch_size:
                break
            after = rows[-1].seq
        if in_flight is not None:
            total += await self._settle(*in_flight)
        return total

    async def _send(self, rows: list[repository.Pending]) -> list[asyncio.Future[Any]]:
        """Queue the rows as record batches, in sequence order per partition."""
        assert self._sender is not None
        records = []
        for row in rows:
            value, headers = encode_wire(orjson.loads(row.wire))
            records.append(ProducerRecord(row.entity_key.encode(), value, headers, _millis(row.received_at)))
        return await self._sender.send(records)

    async def _settle(self, rows: list[repository.Pending], pending: list[asyncio.Future[Any]]) -> int:
        await asyncio.gather(*pending)
        # Only now, after the broker acknowledged every batch, may the rows count as published.
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await repository.mark_published(conn, [row.seq for row in rows], now)
        self.broker_reachable = True
        self.last_published_at = now
        if self._on_published is not None:
            self._on_published(len(rows))
        return len(rows)


def _millis(moment: datetime | None) -> int | None:
    """A record timestamp; SQLite gives the stored UTC time back without its zone."""
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def relay_from_settings(
    engine: AsyncEngine, settings: IntakeSettings, on_published: Callable[[int], None] | None = None
) -> Relay:
    assert settings.kafka_bootstrap_servers, "the relay needs KAFKA_BOOTSTRAP_SERVERS"
    return Relay(
        engine,
        broker_of(settings),
        settings.events_topic,
        partitions=settings.topic_partitions,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        on_published=on_published,
    )


async def publish_until_empty(settings: IntakeSettings) -> int:
    """Publish the whole backlog once (used by `stroom import --publish`)."""
    engine = settings.database_engine("intake")
    relay = relay_from_settings(engine, settings)
    try:
        await relay.start()
        async with relay.exclusive():
            await relay.verify_epoch()
            return await relay.drain()
    finally:
        await relay.stop()
        await engine.dispose()


async def _main() -> None:
    from stroom_platform.logs import configure_logging

    settings = IntakeSettings()
    configure_logging(settings.log_level)
    engine = settings.database_engine("intake")
    await require_migrated(engine, MIGRATIONS)
    relay = relay_from_settings(engine, settings)
    freeze_startup_heap()
    try:
        await relay.run()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
