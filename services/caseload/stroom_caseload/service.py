"""Applies a batch of validated events in one transaction and says which facts to (re)publish:
reads what the store knows, lets the domain's plan decide, and has the repository carry it out."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.domain.events import Decoded, effective
from stroom_caseload.domain.plan import (
    ClientRow,
    Effects,
    EntityWrite,
    Folded,
    Incoming,
    Outgoing,
    client_records,
    entity_continued,
    entity_write,
    plan_effects,
    plan_ledger,
)
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.tables import Tables, live
from stroom_contract.events import Envelope
from stroom_platform.dialect import LockingTransactions

# Outgoing: what the consumer publishes of an applied batch.
__all__ = ["APPLY_LOCK", "Applied", "EventBatch", "Folds", "Outgoing", "apply_events", "apply_transaction"]

# Live batches hold this shared; `stroom caseload rebuild` holds it exclusively to swap.
APPLY_LOCK = 0x5717_0AD


@dataclass(frozen=True, slots=True)
class Applied:
    facts: list[Outgoing]
    new_by_type: Counter[str]
    duplicates: int
    # Positions, in the events given, of those reusing a stored (source, id) for other content.
    conflicts: tuple[int, ...] = ()
    # What to keep of the entities folded, once the transaction is committed (`Folds.keep`).
    folded: dict[str, Folded] = field(default_factory=dict)
    # The point facts whose records are among `facts`: also those a retraction further down
    # their chain restored or retracted, which no event of the batch names.
    points: list[ClientRow] = field(default_factory=list)


class Folds:
    """What the live worker keeps of the entities it folded last (an LRU of `size`): an entity
    whose stored revision is still the one kept, and whose new events are all recorded after
    those folded, continues its fold instead of reading and folding its events again. Kept only
    from committed transactions, so the revision names exactly what was folded."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[str, Folded] = OrderedDict()

    def take(self, key: str) -> Folded | None:
        """The entity's entry, taken out: a batch extends its rows in place, and a batch that
        fails must not leave them extended by what it did not commit (`keep` puts back what
        a committed one folded)."""
        return self._kept.pop(key, None)

    def keep(self, folded: Mapping[str, Folded]) -> None:
        for key, entity in folded.items():
            self._kept[key] = entity
            self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """A batch's events as the apply reads them, and the entities they name: all that most
    batches recompute, and what a live batch locks first (`apply_transaction`)."""

    given: tuple[Incoming, ...]
    named: tuple[str, ...]

    @classmethod
    def of(cls, events: Sequence[Envelope | Decoded]) -> EventBatch:
        given = tuple(Incoming.of(event) for event in events)
        return cls(given, tuple(sorted({i.key for i in given if i.key and i.type not in CLIENT_EVENT_TYPES})))


def apply_transaction(
    transactions: LockingTransactions, batch: EventBatch
) -> AbstractAsyncContextManager[AsyncConnection]:
    """The live worker's transaction of `batch`: it begins holding what `apply_events` locks first
    (in the round trip of its BEGIN), so `apply_events` is told so (`locked`)."""
    return transactions.transaction(batch.named, APPLY_LOCK)


async def apply_events(
    conn: AsyncConnection,
    events: Sequence[Envelope | Decoded] | EventBatch,
    tables: Tables = live,
    folds: Folds | None = None,
    locked: bool = False,
) -> Applied:
    """Ledger first, then recompute every touched entity under its lock; the caller commits.
    `folds`: what the live worker kept of entities it folded before; `locked`: the transaction
    is the batch's `apply_transaction`."""
    repo = CaseloadRepository(conn, tables)
    batch = events if isinstance(events, EventBatch) else EventBatch.of(events)
    given, named = list(batch.given), list(batch.named)
    if tables is live:
        # Locked with the batch, so their revisions can be read with the events' upsert (in its
        # own statement, as the lock's snapshot is taken before the lock).
        await repo.share_apply_lock(APPLY_LOCK, named, taken=locked)
    # What the store holds is read first only for a batch that retracts: a retraction reusing a
    # stored (source, id) for other content must not mark, nor key its chain by a conflicting
    # event. Other events the store holds are not written again, so they are read back after
    # the write, and only those: most batches hold none (a round trip saved).
    retracts = any(i.retracted_id is not None for i in given)
    stored = await repo.stored_contents(sorted({i.ident for i in given})) if retracts else {}
    ledger = plan_ledger(given, stored)
    targets = await repo.mark_retracted(ledger.marks)
    rows = ledger.rows({(t.source, t.event_id): t.entity_key for t in targets if t.entity_key is not None})
    new, revisions = await repo.upsert_events(rows, named)
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
    # New point facts are at hand; only redeliveries and retracted ones are read back.
    read = await repo.client_rows(effects.clients, effects.links)
    read += await repo.person_rows(effects.persons, effects.links)
    points = [*effects.fresh, *read]
    facts = client_records(points)
    written, folded = await _recompute(repo, effects, folds, set(named), revisions)
    # After the new point facts are stored (with the entities): some of them are among those read.
    await repo.sync_client_retractions(read)
    current = await repo.current_facts(effects.republish)
    # A redelivered entity's full change stands in for the batch's change of it (Effects).
    facts += [fact for fact in written if fact.key not in current]
    facts.extend(Outgoing(key, value) for key, value in current.items())
    return Applied(facts, effects.new_by_type, effects.duplicates, ledger.conflicts, folded, points)


async def _recompute(
    repo: CaseloadRepository,
    effects: Effects,
    folds: Folds | None,
    named: set[str],
    named_revisions: Mapping[str, int],
) -> tuple[list[Outgoing], dict[str, Folded]]:
    """Fold each entity's events into its history (on from what `folds` kept of it where that
    can be done, from the batch's events for an entity new to the store, else from its stored
    events), store what changed (with the batch's new point facts of persons), give the change
    of its rows and what to keep of it. `named_revisions`: the revisions of those of the
    entities the batch's events name (`named`) that have one, read under their locks."""
    keys = effects.recompute
    await repo.lock_entities(keys)
    continued: dict[str, EntityWrite] = {}
    kept = {} if folds is None else {k: f for k in keys if k in effects.appended and (f := folds.take(k))}
    # Every transaction that stores an entity's events stores its revision, so one without a
    # revision (read under its lock) has no events but the batch's: they are not read back.
    # The entities appended to are among those named; only one that is not is read here.
    revisions = await repo.revisions(sorted(effects.appended.keys() - named))
    revisions.update((key, named_revisions[key]) for key in effects.appended if key in named_revisions)
    for key, folded in kept.items():
        if revisions.get(key) == folded.revision:
            write = entity_continued(key, folded, effects.appended[key])
            if write is not None:
                continued[key] = write
    first = {key: effective(events) for key, events in effects.appended.items() if key not in revisions}
    stored, current = await repo.fold_inputs(
        [key for key in keys if key not in continued and key not in first]
    )
    stored.update(first)
    saved = [
        continued.get(key)
        or entity_write(key, stored[key], current.get(key, (0, None)), effects.since.get(key))
        for key in keys
    ]
    await repo.save_entities(saved, effects.point_facts)
    facts = [Outgoing(entity.key, entity.change) for entity in saved]
    return facts, {entity.key: entity.folded for entity in saved if entity.folded is not None}
