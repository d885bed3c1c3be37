"""Entities new to the store are folded from the batch's events, not read back after storing them."""

from __future__ import annotations

from caseload.statements import delivered, statement_log
from stroom_caseload.domain.plan import entity_write
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED
from stroom_platform.organisations import OrganisationsConfig


async def test_new_entities_are_folded_without_reading_their_events_back(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    events = delivered(pseudonymiser, organisations)
    # A first batch without retractions: all it recomputes are entities new to the store.
    first = [e for e in events if e.type != RETRACTED][:50]
    batches = [first, *(events[i : i + 50] for i in range(0, len(events), 50))]
    async with statement_log(caseload_database) as (engine, statements):
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
