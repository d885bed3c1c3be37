"""Comparing the service's projections and facts with the independent reference."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload import reference
from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.queries import CaseloadQueries, Projection
from stroom_caseload.tables import live
from stroom_contract.facts import Fact

FACT: TypeAdapter[Any] = TypeAdapter(Fact)


def month_ends(first: date, months: int) -> list[date]:
    ends = []
    for n in range(1, months + 1):
        year, month = first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1
        ends.append(date(year, month, 1) - timedelta(days=1))
    return ends


def as_dict(projection: Projection) -> dict[str, Any]:
    result = {
        "benefits": projection.benefits,
        "persons": projection.persons,
        "placements": projection.placements,
        "open_applications": projection.open_applications,
        "trajectories": projection.trajectories,
        "coaches": projection.clients_per_coach(),
    }
    return {k: v for k, v in result.items() if v}


def expected(raw: list[dict[str, Any]], municipality: str, on: date, as_of: Any = None) -> dict[str, Any]:
    return {k: v for k, v in reference.projection(raw, municipality, on, as_of).items() if v}


async def assert_projections_match(
    engine: AsyncEngine, raw: list[dict[str, Any]], municipalities: list[str], first: date, months: int
) -> int:
    """Every municipality at every month end; returns how many comparisons were non-empty."""
    compared = 0
    truth = reference.Reference(raw)
    async with engine.connect() as conn:
        queries = CaseloadQueries(conn)
        for municipality in municipalities:
            for on in month_ends(first, months):
                want = {k: v for k, v in truth.projection(municipality, on).items() if v}
                assert as_dict(await queries.projection(municipality, on)) == want, (municipality, on)
                compared += bool(want)
    return compared


def expected_key(fact: Any) -> str:
    """Client records are keyed per record (the facts topic is compacted), the rest per entity."""
    record_id = getattr(fact, "record_id", None)
    return f"{fact.entity}|{record_id}" if record_id else str(fact.entity)


def latest_facts(records: list[Any]) -> dict[str, dict[str, Any]]:
    """What a facts consumer keeps: per entity (or client record) the highest revision."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        fact = FACT.validate_json(record.value)
        assert record.key.decode() == expected_key(fact)
        ident = getattr(fact, "record_id", fact.entity)
        if ident not in latest or latest[ident]["revision"] <= fact.revision:
            latest[ident] = orjson.loads(record.value)
    return latest


async def assert_facts_match_database(engine: AsyncEngine, records: list[Any]) -> None:
    latest = latest_facts(records)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(live.entities.c.entity_key, live.entities.c.fact))).all()
        stored_clients = (
            await conn.execute(select(live.client_facts.c.record_id, live.client_facts.c.retracted_at))
        ).all()
        ev = live.events
        ledger = {
            f"{source}|{event_id}": revision
            for source, event_id, revision in await conn.execute(
                select(ev.c.source, ev.c.event_id, ev.c.revision).where(ev.c.type.in_(CLIENT_EVENT_TYPES))
            )
        }
    assert rows
    for key, fact in rows:
        assert latest[key] == orjson.loads(fact), key
    entity_facts = {k for k, v in latest.items() if v["kind"] != "client"}
    assert entity_facts == {key for key, _ in rows}
    clients = {k: v for k, v in latest.items() if v["kind"] == "client"}
    assert set(clients) == {r.record_id for r in stored_clients}
    for record_id, retracted_at in stored_clients:
        assert (clients[record_id]["retracted_at"] is None) == (retracted_at is None), record_id
        # The newest record of each is the one its ledger row stands at now.
        assert clients[record_id]["revision"] == ledger[record_id], record_id
