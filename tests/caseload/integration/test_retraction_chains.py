"""A retraction of a retraction, for every event type, arriving in any order and redelivered: after
each delivery the stored state and the newest published fact are what the contract says counts."""

from __future__ import annotations

import random
from copy import deepcopy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.integration.expectations import consumed_rows
from caseload.reference import known_events
from stroom_caseload.domain.events import Event
from stroom_caseload.domain.fold import fold
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import apply_events
from stroom_caseload.tables import dead_letters, live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import EVENT_TYPES, RETRACTED
from stroom_contract.facts import ClientRecord, EntityChange, Fact
from stroom_contract.keys import entity_key, kind_of, scoped_key
from stroom_contract.rows import entity_rows
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

EXAMPLES = Path(__file__).parents[2] / "contract" / "examples"
FACT: TypeAdapter[Any] = TypeAdapter(Fact)
# The event that opens the entity an event of a closing type is about: without it, nothing shows.
OPENING = {
    "stroom.benefit.members_changed.v1": "stroom.benefit.started.v1",
    "stroom.benefit.ended.v1": "stroom.benefit.started.v1",
    "stroom.placement.ended.v1": "stroom.placement.started.v1",
    "stroom.application.decided.v1": "stroom.application.received.v1",
    "stroom.trajectory.ended.v1": "stroom.trajectory.phase_changed.v1",
}
TYPES = sorted(t for t in EVENT_TYPES if t != RETRACTED)
CHAIN = 3


def example(event_type: str, source: str) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads((EXAMPLES / f"{event_type}.json").read_bytes())
    event["source"] = source
    return event


def history(event_type: str, source: str) -> list[dict[str, Any]]:
    """The entity's opening event if it needs one, the event, and retractions r1 (of the event),
    r2 (of r1), r3 (of r2), each recorded a day after the one before."""
    target = example(event_type, source)
    events = [example(OPENING[event_type], source)] if event_type in OPENING else []
    events.append(target)
    aimed = target["id"]
    for depth in range(1, CHAIN + 1):
        recorded = datetime.fromisoformat(target["time"]) + timedelta(days=depth)
        retraction = {
            "specversion": "1.0",
            "id": f"{target['id']}-r{depth}",
            "source": source,
            "type": RETRACTED,
            "time": recorded.isoformat(),
            "data": {"retracted_id": aimed, "reason": "registratiefout"},
        }
        events.append(retraction)
        aimed = retraction["id"]
    return events


async def stored_fact(engine: AsyncEngine, key: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        fact = (await CaseloadRepository(conn).current_facts([key])).get(key)
    return None if fact is None else dict(orjson.loads(fact))


async def stored_record(engine: AsyncEngine, record_id: str) -> Any:
    async with engine.connect() as conn:
        cf = live.client_facts
        return (await conn.execute(select(cf.c.retracted_at).where(cf.c.record_id == record_id))).first()


@pytest.mark.parametrize("event_type", TYPES)
async def test_a_retracted_retraction_restores_its_event_in_any_order(
    event_type: str,
    caseload_database: str,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(caseload_database)
    published: dict[str, dict[str, Any]] = {}
    changes: dict[str, list[EntityChange]] = {}
    try:
        # Three deliveries of their own (their own source each): each order its own entity.
        for n in range(3):
            source = f"gws/werksaam-westfriesland/{n}"
            raw = history(event_type, source)
            rng = random.Random(f"{event_type}/{n}")
            delivery = raw + [deepcopy(rng.choice(raw)) for _ in range(3)]
            rng.shuffle(delivery)
            target = validator.validate(deepcopy(raw[-CHAIN - 1]))
            key = entity_key(target)
            assert key is not None
            delivered: list[dict[str, Any]] = []
            for event in delivery:
                delivered.append(event)
                async with engine.begin() as conn:
                    applied = await apply_events(conn, [validator.validate(deepcopy(event))])
                for out in applied.facts:
                    fact = FACT.validate_json(out.value)
                    if not isinstance(fact, ClientRecord):
                        changes.setdefault(out.key, []).append(fact)
                        continue
                    record = orjson.loads(out.value)
                    if out.key not in published or published[out.key]["revision"] <= fact.revision:
                        published[out.key] = record
                counting = known_events(delivered)
                await _assert_counts(engine, validator, published, changes, key, target, counting, event_type)
        async with engine.connect() as conn:
            assert (await conn.execute(select(dead_letters))).first() is None
    finally:
        await engine.dispose()


async def _assert_counts(
    engine: AsyncEngine,
    validator: EventValidator,
    published: dict[str, dict[str, Any]],
    changes: dict[str, list[EntityChange]],
    key: str,
    target: Any,
    counting: list[dict[str, Any]],
    event_type: str,
) -> None:
    counts = any(e["id"] == target.id and e["source"] == target.source for e in counting)
    kind = kind_of(event_type)
    if kind == "client":
        record_id = f"{target.source}|{target.id}"
        row = await stored_record(engine, record_id)
        published_key = f"{key}|{record_id}"
        if row is None:
            assert not counts
            return
        assert (row.retracted_at is None) == counts, (record_id, counts)
        assert (published[published_key]["retracted_at"] is None) == counts
        return
    events = [Event.from_wire(validator.validate(deepcopy(e)).to_wire()) for e in counting]
    state = fold(kind, [e for e in events if entity_key_of(e) == key])
    expected = {v.row for v in entity_rows(kind, key, [(target.time, state)])}
    fact = await stored_fact(engine, key)
    if fact is None:
        assert state is None
        return
    stored = FACT.validate_python(fact)
    assert {v.row for v in stored.rows if v.recorded_to is None} == expected, counts
    # What a consumer of the changes published holds is the stored rows, at the stored revision.
    assert consumed_rows(changes[key]) == consumed_rows([stored])


def entity_key_of(event: Event) -> str | None:
    kind = kind_of(event.type)
    ref = event.data.get(f"{kind}_ref")
    return None if ref is None else scoped_key(kind, event.source, ref)


async def test_a_chain_that_waited_joins_its_entity_when_its_middle_comes_with_its_event(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    """r1 (of the event) and r3 (of r2) first, each waiting for what it retracts; then r2 and the
    event in one batch: r3 waited for r2, which waits for r1's chain, which ends at the event."""
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    target, r1, r2, r3 = history("stroom.benefit.started.v1", "gws/werksaam-westfriesland")
    engine = make_engine(caseload_database)
    try:
        for batch in ([r1, r3], [r2, target]):
            async with engine.begin() as conn:
                await apply_events(conn, [validator.validate(deepcopy(event)) for event in batch])
        key = entity_key(validator.validate(deepcopy(target)))
        async with engine.connect() as conn:
            ev = live.events
            rows = (await conn.execute(select(ev.c.event_id, ev.c.entity_key))).all()
        keys = dict(rows)
        assert keys == dict.fromkeys((e["id"] for e in (target, r1, r2, r3)), key)
        assert key is not None
        fact = await stored_fact(engine, key)
        assert fact is not None
        # r3 counts, so r2 does not, so r1 does: the benefit counts no longer.
        assert not [v for v in FACT.validate_python(fact).rows if v.recorded_to is None]
    finally:
        await engine.dispose()
