"""What `/status` reports: assignment, lag per partition, last event, database and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_caseload.consumer import Processor
from stroom_caseload.metrics import CaseloadMetrics
from stroom_caseload.repository import CaseloadRepository
from stroom_platform.kafka.lag import LagProbe


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
