"""What the `stroom` command may call in reporting: migrations, key rotation, every report family to
file, the facts it dead-lettered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.db import upgrade
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.dead_letters import DeadLetter, read_dead_letters
from stroom_platform.kafka.dead_letters import replay as replay_dead_letters
from stroom_platform.organisations import OrganisationsConfig, load_organisations
from stroom_platform.partitioner import entity_partition_for
from stroom_platform.pseudonyms import Derived
from stroom_reporting import kpi_store
from stroom_reporting.domain.board import MAX_MONTHS, period_label
from stroom_reporting.domain.months import month_of, month_range, parse_month, quarter_of
from stroom_reporting.migrations import MIGRATIONS
from stroom_reporting.repository import move_generation
from stroom_reporting.service.exports import to_csv, to_xlsx
from stroom_reporting.service.kpis import kpis_report
from stroom_reporting.service.reports import (
    LABELS,
    REGULATIONS,
    Report,
    ReportTable,
    Scope,
    board,
    caseload,
    composition,
    gate,
    monthly,
    placements,
    reasons,
    trajectories,
)
from stroom_reporting.settings import ReportingSettings
from stroom_reporting.tables import audit, metadata

__all__ = [
    "LABELS",
    "MAX_MONTHS",
    "MIGRATIONS",
    "REGULATIONS",
    "DeadLetter",
    "Report",
    "ReportTable",
    "Scope",
    "UnknownScope",
    "audit",
    "board",
    "caseload",
    "composition",
    "gate",
    "kpis_report",
    "migrate",
    "month_of",
    "month_range",
    "monthly",
    "parse_month",
    "period_label",
    "placements",
    "quarter_of",
    "read_dead_letters",
    "reasons",
    "rebuild_kpi_cells",
    "ref_tables",
    "replay",
    "report",
    "to_csv",
    "to_xlsx",
    "trajectories",
]

R = TypeVar("R")


async def replay(broker: Broker, facts_topic: str, letters: list[DeadLetter]) -> int:
    """Dead-lettered facts back on the facts topic, in their entity's partition as caseload sends them."""
    return await replay_dead_letters(broker, facts_topic, letters, entity_partition_for)


async def migrate(url: str) -> None:
    """Create or upgrade the reporting tables (a one-off step, not part of app start-up)."""
    await upgrade(MIGRATIONS.location, url)


async def rebuild_kpi_cells(
    settings: ReportingSettings, organisations: OrganisationsConfig
) -> tuple[int, int]:
    """Every KPI cell computed again from the stored read models, in one transaction; returns the
    benefits and plans restated."""
    engine = settings.database_engine("reporting")
    try:
        async with engine.begin() as conn:
            await move_generation(conn)
            return await kpi_store.rebuild(conn, organisations)
    finally:
        await engine.dispose()


def ref_tables() -> tuple[MetaData, Derived]:
    """The tables whose client_refs a key rotation rewrites; no column is derived from them."""
    return metadata, {}


class UnknownScope(ValueError):
    """An organisation or municipality the configuration does not know; `option` names the input."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


async def report(
    settings: ReportingSettings,
    organisation: str,
    municipality: str | None,
    make: Callable[[AsyncConnection, Scope], Awaitable[R]],
) -> R:
    """`make` over the organisation's municipalities (or the one given) on the reporting database."""
    organisations = load_organisations(settings.organisations_file)
    org = organisations.organisation(organisation)
    if org is None:
        raise UnknownScope(f"onbekende organisatie {organisation!r}", "--organisation")
    codes = [m.code for m in org.municipalities]
    if municipality is not None and municipality not in codes:
        raise UnknownScope(f"{municipality} hoort niet bij {organisation}", "--municipality")
    scope = Scope(org, [municipality] if municipality else codes, organisations.municipality_names)
    engine = settings.database_engine("reporting")
    try:
        async with engine.connect() as conn:
            return await make(conn, scope)
    finally:
        await engine.dispose()
