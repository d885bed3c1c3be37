"""The parts of a running intake service, wired from settings, and its status report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_intake import queries
from stroom_intake.domain.outcome import IngestReport
from stroom_intake.domain.reading import RawEvent, Unreadable
from stroom_intake.domain.sequences import SourceSequence
from stroom_intake.metrics import IntakeMetrics
from stroom_intake.outbox import Relay, relay_from_settings
from stroom_intake.queries import Backlog
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_platform.auth import Principal
from stroom_platform.broker import broker_responds
from stroom_platform.ops import ReadinessCheck, database_check, database_status, moment
from stroom_platform.organisations import load_organisations
from stroom_platform.settings import pseudonym_keys
from stroom_platform.tasks import cancel_and_wait

log = logging.getLogger(__name__)
STATUS_DESCRIPTION = (
    "De achterstand van de outbox, de relay en de broker, de opgeslagen events, en per bron de gaten."
)


def make_validator(settings: IntakeSettings) -> EventValidator:
    organisations = load_organisations(settings.organisations_file)
    keys = pseudonym_keys(settings.pseudonym_key)
    margin = timedelta(seconds=settings.future_margin_seconds)
    return EventValidator(Pseudonymiser(*keys), organisations.municipality_codes, margin)


@dataclass
class IntakeRuntime:
    settings: IntakeSettings
    engine: AsyncEngine
    ingestor: Ingestor
    registry: CollectorRegistry
    metrics: IntakeMetrics
    relay: Relay | None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> IntakeRuntime:
        engine = settings.database_engine("intake")
        registry = CollectorRegistry()
        metrics = IntakeMetrics(registry)
        relay = None
        if settings.kafka_bootstrap_servers and settings.relay_in_app:
            relay = relay_from_settings(engine, settings, on_published=metrics.published.inc)
        ingestor = Ingestor(engine, make_validator(settings), on_stored=relay.wake if relay else None)
        return cls(settings, engine, ingestor, registry, metrics, relay)

    async def start(self) -> None:
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="intake-relay"))
        elif self.settings.relay_in_app:
            log.warning("geen KAFKA_BOOTSTRAP_SERVERS: events worden opgeslagen maar niet gepubliceerd")
        self._tasks.append(asyncio.create_task(self._watch_backlog(), name="intake-backlog"))

    async def stop(self) -> None:
        self._stopping.set()
        if self.relay is not None:
            self.relay.request_stop()
        await asyncio.wait(self._tasks, timeout=10)
        # A relay stuck on an unreachable broker is still running now.
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.engine.dispose()

    async def ingest(
        self, items: Sequence[RawEvent | Unreadable], writer: Principal | None = None
    ) -> IngestReport:
        report = await self.ingestor.ingest(items, writer)
        self.metrics.observe(report)
        return report

    def checks(self) -> dict[str, ReadinessCheck]:
        """Readiness: the database answers, and the relay reaches the broker."""
        return {"database": partial(database_check, self.engine), "broker": self.check_broker}

    async def _watch_backlog(self) -> None:
        rounds = 0
        while not self._stopping.is_set():
            with contextlib.suppress(Exception):
                async with self.engine.connect() as conn:
                    self._observe_backlog(await queries.backlog(conn), datetime.now(UTC))
                    # Read every numbered or stored event: less often than the backlog.
                    if rounds % 6 == 0:
                        self._observe_sequences(await queries.sequences(conn))
                        self.metrics.stored = await queries.stored_per_type(conn)
            rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(self.settings.relay_poll_seconds, 5.0))

    def _observe_backlog(self, backlog: queries.Backlog, now: datetime) -> None:
        self.metrics.backlog.set(backlog.unpublished)
        oldest = backlog.oldest_received_at
        self.metrics.freshness.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    async def check_broker(self) -> None:
        """Readiness: a relay that cannot reach the broker publishes nothing."""
        if self.relay is not None:
            await self.relay.check_broker()

    def _observe_sequences(self, sequences: list[SourceSequence]) -> None:
        for sequence in sequences:
            self.metrics.sequence_missing.labels(sequence.source).set(sequence.missing)

    async def status(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        outbox: dict[str, Any] = {}
        sequences: list[SourceSequence] = []

        async def read(conn: AsyncConnection) -> tuple[Backlog, list[SourceSequence], dict[str, int]]:
            return (
                await queries.backlog(conn),
                await queries.sequences(conn),
                await queries.stored_per_type(conn),
            )

        found, database = await database_status(self.engine, read)
        if found is not None:
            backlog, sequences, self.metrics.stored = found
            self._observe_sequences(sequences)
            self._observe_backlog(backlog, now)
            oldest = backlog.oldest_received_at
            last = backlog.last_published_at
            outbox = {
                "backlog": backlog.unpublished,
                "oldest_unpublished_age_seconds": (now - oldest).total_seconds() if oldest else None,
                "last_published_at": moment(last),
            }
        totals = self.metrics.totals
        broker = self.settings.kafka_bootstrap_servers
        # Asked now: the relay's own view is only as fresh as its last publication.
        broker_up = await broker_responds(broker) if broker and self.relay else None
        return {
            "service": "intake",
            "database": database,
            "outbox": outbox,
            "relay": {
                "configured": self.relay is not None,
                "running": bool(self.relay and self.relay.running),
                "broker_reachable": broker_up,
                "topic": self.settings.events_topic,
            },
            # Stored: every path in (HTTP and `stroom import`); the others as this process saw them.
            "events": {"stored": sum(self.metrics.stored.values())}
            | {k: totals[k] for k in ("accepted", "duplicate", "refused", "conflict")},
            # Per source sending a numeric `sequence`: numbers it skipped (events lost upstream?).
            "sequences": {s.source: s.document() for s in sequences},
        }
