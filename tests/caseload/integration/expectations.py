"""Comparing the service's projections and facts with the independent reference."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload import reference
from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.queries import CaseloadQueries, Projection
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.tables import live
from stroom_contract.facts import ClientRecord, EntityChange, Fact
from stroom_reporting.domain.spells import chain

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
    """Client records are keyed per record, the rest per entity."""
    record_id = getattr(fact, "record_id", None)
    return f"{fact.entity}|{record_id}" if record_id else str(fact.entity)


def consumed_rows(changes: list[EntityChange]) -> tuple[int, set[tuple[Any, ...]]]:
    """An entity's rows as a consumer holds them after its changes, in any order and repeated:
    its revision and its row versions."""
    found = chain(None, changes)
    assert not found.park, [(c.revision, c.base) for c in found.park]
    rows: dict[tuple[Any, ...], Any] = {}
    for change in found.apply:
        if change.base is None:
            rows.clear()
        for version in change.removed:
            rows.pop((version.row, version.recorded_from))
        for version in change.rows:
            rows[(version.row, version.recorded_from)] = version.recorded_to
    return found.apply[-1].revision, {(*key, to) for key, to in rows.items()}


def latest_facts(records: list[Any]) -> dict[str, Any]:
    """What a facts consumer keeps: per client record the one of the highest revision (as JSON),
    per entity its revision and rows after applying its changes."""
    latest: dict[str, Any] = {}
    changes: dict[str, list[EntityChange]] = defaultdict(list)
    for record in records:
        fact = FACT.validate_json(record.value)
        assert record.key.decode() == expected_key(fact)
        if isinstance(fact, ClientRecord):
            if fact.record_id not in latest or latest[fact.record_id]["revision"] <= fact.revision:
                latest[fact.record_id] = orjson.loads(record.value)
        else:
            changes[fact.entity].append(fact)
    return latest | {entity: consumed_rows(of_entity) for entity, of_entity in changes.items()}


async def assert_facts_match_database(engine: AsyncEngine, records: list[Any]) -> None:
    """The rows the published changes give are those of each entity's stored full change."""
    latest = latest_facts(records)
    async with engine.connect() as conn:
        keys = (await conn.execute(select(live.entities.c.entity_key))).scalars().all()
        # Derived from the events where a continued fold kept none, as a redelivery sends it.
        rows = (await CaseloadRepository(conn).current_facts(keys)).items()
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
        assert latest[key] == consumed_rows([FACT.validate_json(fact)]), key
    entity_facts = {k for k, v in latest.items() if isinstance(v, tuple)}
    assert entity_facts == {key for key, _ in rows}
    clients = {k: v for k, v in latest.items() if not isinstance(v, tuple)}
    stored_ids = {r.record_id for r in stored_clients}
    # Named when they differ: published but not stored, stored but not published.
    assert set(clients) == stored_ids, (sorted(set(clients) - stored_ids), sorted(stored_ids - set(clients)))
    for record_id, retracted_at in stored_clients:
        assert (clients[record_id]["retracted_at"] is None) == (retracted_at is None), record_id
        # The newest record of each is the one its ledger row stands at now.
        assert clients[record_id]["revision"] == ledger[record_id], record_id
