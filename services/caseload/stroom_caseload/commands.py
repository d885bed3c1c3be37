"""What the `stroom` command may call in caseload: migrations, a worker, the rebuild, dead letters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import uvicorn
from sqlalchemy import MetaData

from stroom_caseload.app import create_app
from stroom_caseload.migrations import MIGRATIONS
from stroom_caseload.queries import CaseloadQueries, Projection
from stroom_caseload.rebuild.republication import RepublicationRefused
from stroom_caseload.rebuild.run import RebuildFailed, RebuildResult, rebuild
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import audit, metadata
from stroom_platform.db import upgrade
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.dead_letters import DeadLetter, read_dead_letters
from stroom_platform.kafka.dead_letters import replay as replay_dead_letters
from stroom_platform.logs import configure_logging
from stroom_platform.memory import tune_for_batches
from stroom_platform.partitioner import partition_for
from stroom_platform.pseudonyms import Derived
from stroom_platform.serving import KEEP_ALIVE_SECONDS

__all__ = [
    "MIGRATIONS",
    "DeadLetter",
    "Projection",
    "RebuildFailed",
    "RebuildResult",
    "RepublicationRefused",
    "audit",
    "migrate",
    "projection",
    "read_dead_letters",
    "rebuild",
    "ref_tables",
    "replay",
    "run_worker",
]


async def replay(
    broker: Broker, events_topic: str, letters: list[DeadLetter], settings: CaseloadSettings
) -> int:
    """The dead letters back on the events topic, in the partitions intake's relay gives them; then
    marked replayed in the caseload database (`/status` counts the dead letters not replayed since).
    Marked only once offered: a replay that fails leaves them counted."""
    count = await replay_dead_letters(broker, events_topic, letters, partition_for)
    engine = settings.database_engine("caseload")
    try:
        async with engine.begin() as conn:
            places = [place for letter in letters if (place := letter.read_at) is not None]
            await CaseloadRepository(conn).mark_replayed(places, datetime.now(UTC))
    finally:
        await engine.dispose()
    return count


async def migrate(url: str) -> None:
    """Create or upgrade the caseload tables (a one-off step, not part of app start-up)."""
    await upgrade(MIGRATIONS.location, url)


def ref_tables() -> tuple[MetaData, Derived]:
    """The tables whose client_refs a key rotation rewrites; no column is derived from them."""
    return metadata, {}


def run_worker() -> None:
    """One caseload worker (consumer and HTTP API) from the environment, until it is stopped."""
    settings = CaseloadSettings()
    configure_logging(settings.log_level)
    # The process is the worker's alone (`stroom serve` shares one with other services and
    # keeps the defaults): under load the default collector cost a tenth of its CPU, and
    # its full passes over the batches in flight stalled it for 20 ms each.
    tune_for_batches()
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=settings.http_port,
        log_config=None,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # No `server: uvicorn`: what software answers is no caller's business.
        server_header=False,
    )


async def projection(settings: CaseloadSettings, municipality: str, on: date) -> Projection:
    """A municipality's caseload on a day, read from the caseload database."""
    engine = settings.database_engine("caseload")
    try:
        async with engine.connect() as conn:
            return await CaseloadQueries(conn).projection(municipality, on)
    finally:
        await engine.dispose()
