"""Applies a batch of validated events in one transaction and says which facts to (re)publish:
reads what the store knows, lets the domain's plan decide, and has the repository carry it out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.domain.events import Decoded
from stroom_caseload.domain.plan import (
    Incoming,
    Outgoing,
    client_records,
    entity_write,
    plan_effects,
    plan_ledger,
)
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.tables import Tables, live
from stroom_contract.events import Envelope

# Outgoing: what the consumer publishes of an applied batch.
__all__ = ["APPLY_LOCK", "Applied", "Outgoing", "apply_events"]

# Live batches hold this shared; `stroom caseload rebuild` holds it exclusively to swap.
APPLY_LOCK = 0x5717_0AD


@dataclass(frozen=True, slots=True)
class Applied:
    facts: list[Outgoing]
    new_by_type: Counter[str]
    duplicates: int
    # Positions, in the events given, of those reusing a stored (source, id) for other content.
    conflicts: tuple[int, ...] = ()


async def apply_events(
    conn: AsyncConnection, events: Sequence[Envelope | Decoded], tables: Tables = live
) -> Applied:
    """Ledger first, then recompute every touched entity under its lock; the caller commits."""
    repo = CaseloadRepository(conn, tables)
    given = [Incoming.of(event) for event in events]
    if tables is live:
        # The entities the batch's events name, locked with it: all that most batches recompute.
        named = {i.key for i in given if i.key and i.type not in CLIENT_EVENT_TYPES}
        await repo.share_apply_lock(APPLY_LOCK, sorted(named))
    # What the store holds is read first only for a batch that retracts: a retraction reusing a
    # stored (source, id) for other content must not mark, nor key its chain by a conflicting
    # event. Other events the store holds are not written again, so they are read back after
    # the write, and only those: most batches hold none (a round trip saved).
    retracts = any(i.retracted_id is not None for i in given)
    stored = await repo.stored_contents(sorted({i.ident for i in given})) if retracts else {}
    ledger = plan_ledger(given, stored)
    targets = await repo.mark_retracted(ledger.marks)
    rows = ledger.rows({(t.source, t.event_id): t.entity_key for t in targets if t.entity_key is not None})
    new = await repo.upsert_events(rows)
    # Also another worker's, stored since the read (its insert made this one's wait): what it
    # stored stands, and a version of the batch with other content is a conflict after all.
    unread = [i.ident for i in ledger.events if i.ident not in new and i.ident not in stored]
    if unread:
        ledger = plan_ledger(given, stored | await repo.stored_contents(unread))
        kept = {i.ident for i in ledger.events}
        rows = [row for row in rows if (row.source, row.event_id) in kept]
    marked_points = ((t.source, t.event_id) for t in targets if t.type in CLIENT_EVENT_TYPES)
    effects = plan_effects(ledger, rows, new, marked_points)
    await repo.rekey(effects.rekeys)
    await repo.save_client_facts(effects.point_facts)
    # New point facts are at hand; only redeliveries and retracted ones are read back.
    read = await repo.client_rows(effects.clients, effects.links)
    read += await repo.person_rows(effects.persons, effects.links)
    await repo.sync_client_retractions(read)
    facts = client_records([*effects.fresh, *read])
    facts += await _recompute(repo, effects.recompute, effects.since)
    current = await repo.current_facts(effects.republish)
    facts.extend(Outgoing(key, value) for key, value in current.items())
    return Applied(facts, effects.new_by_type, effects.duplicates, ledger.conflicts)


async def _recompute(
    repo: CaseloadRepository, keys: Sequence[str], since: Mapping[str, datetime]
) -> list[Outgoing]:
    """Fold each entity's stored events into its history, store what changed, give the change of
    its rows."""
    await repo.lock_entities(keys)
    stored, current = await repo.fold_inputs(keys)
    saved = [entity_write(key, stored[key], current.get(key, (0, None)), since.get(key)) for key in keys]
    await repo.save_entities(saved)
    return [Outgoing(entity.key, entity.change) for entity in saved]
