"""Whether the chain intake → caseload → reporting has processed everything it was given."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from stroom_cli.progress import grouped

STAGES = ("intake", "caseload", "reporting")


@dataclass(frozen=True)
class Backlog:
    intake_backlog: int | None
    caseload_lag: int | None
    reporting_lag: int | None

    @property
    def settled(self) -> bool:
        return self.intake_backlog == 0 and self.caseload_lag == 0 and self.reporting_lag == 0

    def line(self) -> str:
        """As a person reads it while waiting: counts in Dutch notation, and "onbekend" where a
        service has no figure (yet), not Python's None."""
        return (
            f"Verwerken: nog te publiceren {_count(self.intake_backlog)}, caseload achterstand "
            f"{_count(self.caseload_lag)}, rapportage achterstand {_count(self.reporting_lag)}"
        )


def _count(value: int | None) -> str:
    return "onbekend" if value is None else grouped(value)


def backlog_of(intake: dict[str, Any], caseload: dict[str, Any], reporting: dict[str, Any]) -> Backlog:
    partitions = list(reporting["consumer"]["partitions"].values())
    lags = [p["lag"] for p in partitions]
    reporting_lag = sum(lags) if partitions and None not in lags else None
    return Backlog(intake["outbox"].get("backlog"), caseload.get("total_lag"), reporting_lag)


async def wait_until_settled(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    on_progress: Callable[[Backlog], None] = lambda _: None,
) -> None:
    """Polls the three /status endpoints until every stage is at its end three times running.

    Three in a row, because a stage can be momentarily idle while the next batch is on its way.
    """
    steady = 0
    while steady < 3:
        states = [(await client.get(f"{urls[name]}/status")).json() for name in STAGES]
        backlog = backlog_of(*states)
        on_progress(backlog)
        steady = steady + 1 if backlog.settled else 0
        await asyncio.sleep(0.5)
