"""What `/status` reports: assignment, lag per partition, last event, database and dead letters."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.consumer import Processor
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.repository import CaseloadRepository
from stroom_platform.lag import partition_lag

READINESS_TIMEOUT_SECONDS = 3.0


class LagProbe:
    """Reads the group's committed offsets and the topic's end offsets without joining the group."""

    def __init__(self, bootstrap_servers: str, group: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def lag(self) -> dict[int, int]:
        await self._consumer.topics()  # refreshes the metadata
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        ends = await true_end_offsets(self._consumer, tps)
        starts = await self._consumer.beginning_offsets(tps)
        lag = {}
        for tp in tps:
            committed = await self._consumer.committed(tp)
            lag[tp.partition] = partition_lag(ends[tp], committed, starts[tp]) or 0
        return lag

    async def check_broker(self) -> None:
        """A metadata round trip: raises when the broker does not answer."""
        await asyncio.wait_for(self._consumer.topics(), READINESS_TIMEOUT_SECONDS)


async def true_end_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """End offsets, read past the last record batch; moves `consumer`'s assignment and positions.

    The embedded broker (Tansu 0.x) answers ListOffsets(latest) with the last *batch's*
    base offset + 1, so the true end is found by fetching that batch.
    """
    reported = await consumer.end_offsets(tps)
    ends = dict(reported)
    tails = [tp for tp in tps if reported[tp] > 0]
    if not tails:
        return ends
    consumer.assign(tails)
    for tp in tails:
        consumer.seek(tp, reported[tp] - 1)
    pending = set(tails)
    while pending:
        fetched = await consumer.getmany(*pending, timeout_ms=1000)
        if not fetched:
            break
        for tp, records in fetched.items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                pending.discard(tp)
    return ends


async def status(
    group: str,
    assignment: list[int],
    probe: LagProbe,
    processor: Processor,
    engine: AsyncEngine,
    metrics: CaseloadMetrics,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "service": "caseload",
        "consumer_group": group,
        "topic": probe.topic,
        "assigned_partitions": assignment,
        "last_event_time": _iso(processor.last_event_time),
    }
    try:
        lag = await probe.lag()
        report["lag"] = {str(p): n for p, n in lag.items()}
        report["total_lag"] = sum(lag.values())
        for partition, n in lag.items():
            metrics.lag.labels(str(partition)).set(n)
    except Exception as exc:  # the broker being away is a status, not an error
        report["lag"] = None
        report["lag_error"] = type(exc).__name__
    try:
        async with engine.connect() as conn:
            report["dead_letters"] = await CaseloadRepository(conn).dead_letter_count()
        report["database"] = "reachable"
    except Exception as exc:
        report["database"] = f"unreachable: {type(exc).__name__}"
    return report


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
