"""Entities new to the store are folded from the batch's events, not read back after storing them."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event

from caseload.history import deliver, simulate
from stroom_caseload.commands import migrate
from stroom_caseload.domain.plan import entity_write
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig


async def test_new_entities_are_folded_without_reading_their_events_back(
    database_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    await migrate(database_url)
    raw = simulate(["GM0405"], date(2022, 1, 1), months=8, seed=11)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    delivered = [validator.validate(e) for e in deliver(raw, seed=5)]
    # A first batch without retractions: all it recomputes are entities new to the store.
    first = [e for e in delivered if e.type != RETRACTED][:50]
    batches = [first, *(delivered[i : i + 50] for i in range(0, len(delivered), 50))]
    engine = make_engine(database_url)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        recomputed: set[str] = set()
        for n, batch in enumerate(batches):
            statements.clear()
            async with engine.begin() as conn:
                applied = await apply_events(conn, batch)
            recomputed.update(fact.key for fact in applied.facts if not fact.key.startswith("client:"))
            if n == 0:
                assert recomputed
                assert not [s for s in statements if s.startswith("SELECT") and ".wire" in s]
        # What was folded from batches equals a fold of each entity's stored events, retractions,
        # late and repeated events among them.
        async with engine.connect() as conn:
            repo = CaseloadRepository(conn)
            keys = sorted(recomputed)
            stored, current = await repo.fold_inputs(keys)
        assert len(keys) > 20
        for key in keys:
            revision, fact = current[key]
            assert entity_write(key, stored[key], (revision - 1, None)).fact == fact, key
    finally:
        await engine.dispose()
