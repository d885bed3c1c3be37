"""What applying a batch of events does to caseload's store, decided without the store.

The live worker and the rebuild both apply events through these steps; they differ in what
they read (the live worker asks its database, the rebuild remembers what it loaded) and in
their writer (upserts, or bulk appends). Where a step needs the store's answer it ends, and the
next step takes that answer:

1. `plan_ledger`: the batch's events once each, in a fixed order, without those reusing an
   event's (source, id) for other content (`conflicts`), and the earliest retraction of every
   event the batch retracts (`marks`).
2. `Ledger.rows`: each event's ledger row, keyed by its entity; a retraction by the entity at
   the end of its chain, given the keys of the retracted events the store holds.
3. `plan_effects`: given which rows were new, what follows: retractions that waited for an
   event to move to its entity, the entities to fold again or republish as they are, and the
   point facts of persons to store and publish.
4. `entity_write` and `published_clients`/`client_records`: an entity's new history and the
   change of its rows from its stored events, and the records of persons' point facts with their revisions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES, client_point, point_of
from stroom_caseload.domain.events import (
    Decoded,
    Event,
    Mark,
    Stored,
    counted,
    keep_earliest,
    utc,
    wire_data,
)
from stroom_caseload.domain.fold import Memo, extend, history, history_memo
from stroom_caseload.domain.publication import client_record, entity_change, entity_fact, full_rows, record_id
from stroom_contract.events import Envelope, EventData, EventRetractedData
from stroom_contract.facts import ClientFact, Version
from stroom_contract.keys import entity_key, key_kind, kind_of_key
from stroom_contract.retractions import RETRACTION_KIND, Ident, Retractions, chain_keys, retraction_key
from stroom_contract.rows import EntityRows, RowVersion, row_change
from stroom_contract.types import JSONObject

# A person's point fact as its row is stored: record id, client_ref, fact, recorded at.
PointFact = tuple[str, str, ClientFact, datetime]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One facts record: Kafka key and value."""

    key: str
    value: bytes


class Incoming(NamedTuple):
    """An event of a batch: its (source, id), type, recorded time and `data`, its JSON form as
    the ledger stores it, its entity's key (None for a retraction: its chain decides) and what
    it retracts, if anything, and `data` as validation typed it, when at hand. A tuple, as the
    ledger's rows: one of each for every event applied."""

    ident: Ident
    type: str
    time: datetime
    data: JSONObject
    wire: str
    key: str | None
    retracted_id: str | None
    typed: EventData | None = None

    @property
    def event(self) -> Event:
        return Event(self.ident[0], self.ident[1], self.type, self.time, self.data, self.typed)

    @property
    def content(self) -> bytes:
        return content(self.type, self.data)

    @classmethod
    def of(cls, given: Envelope | Decoded) -> Incoming:
        """An event given with the JSON form it came in keeps that form, not serialised anew."""
        envelope, wire = (
            (given.envelope, given.wire) if isinstance(given, tuple) else (given, given.to_wire())
        )
        data = envelope.data
        # The exact class, as validation makes it: the contract's data models have no subclasses.
        retracted = data.retracted_id if type(data) is EventRetractedData else None
        key = None if retracted is not None else entity_key(envelope) or ""
        return cls(
            (envelope.source, envelope.id),
            envelope.type,
            utc(envelope.time),
            wire_data(wire),
            orjson.dumps(wire).decode(),
            key,
            retracted,
            data,
        )


def content(event_type: str, data: JSONObject) -> bytes:
    """What a redelivery of an event repeats: its type and data, canonically (keys sorted), so
    that equal content compares equal however its JSON was written."""
    return orjson.dumps([event_type, data], option=orjson.OPT_SORT_KEYS)


class LedgerRow(NamedTuple):
    source: str
    event_id: str
    entity_key: str
    type: str
    time: datetime
    wire: str


@dataclass(frozen=True, slots=True)
class Ledger:
    """A batch's events, each once (the first given of a repeated (source, id), as a ledger
    keeps the first delivery), in (source, id) order: two workers with overlapping batches then
    lock rows in one order, never in a circle. `marks`: the earliest retraction of each event
    the batch retracts, as (source, id, retracted at, retraction id), in the same order.
    `conflicts`: the positions, in the batch as given, of events whose (source, id) the store or
    an earlier event of the batch holds with another type or other data; they have no effect.
    `given`: the batch's other events, redeliveries included."""

    events: tuple[Incoming, ...]
    marks: tuple[tuple[str, str, datetime, str], ...]
    given: int
    conflicts: tuple[int, ...] = ()

    @property
    def retracted(self) -> dict[Ident, str]:
        """The batch's retractions: (source, id) → retracted id."""
        return {i.ident: i.retracted_id for i in self.events if i.retracted_id is not None}

    def keys(self, known: Mapping[Ident, str]) -> dict[Ident, str]:
        """Every event's entity key; a retraction's is that of the end of its chain, through the
        batch's events and `known` (the keys of stored events the batch retracts)."""
        return batch_keys({i.ident: i.key for i in self.events if i.key is not None}, self.retracted, known)

    def rows(self, known: Mapping[Ident, str]) -> list[LedgerRow]:
        keys = self.keys(known)
        return [LedgerRow(i.ident[0], i.ident[1], keys[i.ident], i.type, i.time, i.wire) for i in self.events]


def batch_keys(
    keys: dict[Ident, str], retracted: Mapping[Ident, str], known: Mapping[Ident, str]
) -> dict[Ident, str]:
    """`keys`, the entity keys of a batch's events but its retractions, with those of its
    retractions (`retracted`: (source, id) → retracted id) added: each that of the end of its
    chain, through the batch's events and `known` (the keys of stored events the batch retracts)."""
    if not retracted:
        return keys
    # Only the targets: the rebuild's `known` is every event it has loaded.
    found = {}
    stale = False
    for (source, _), aimed in retracted.items():
        target = (source, aimed)
        if target in keys:
            found[target] = keys[target]
        elif target in known:
            found[target] = known[target]
            stale = stale or key_kind(found[target]) == RETRACTION_KIND
    chained = chain_keys(retracted, found)
    if stale:
        # A stored retraction may wait under the `retraction_key` of an event of this batch:
        # its chain now ends where that event's does (which may itself have waited until now).
        every = keys | chained
        waiting = {retraction_key(*ident): ident for ident in every}
        chained = {ident: _end(key, every, waiting) for ident, key in chained.items()}
    keys.update(chained)
    return keys


def _end(key: str, keys: Mapping[Ident, str], waiting: Mapping[str, Ident]) -> str:
    """`key`, or where the chain waiting under it ends now; a circle ends where it closes."""
    seen = {key}
    while key in waiting and (found := keys[waiting[key]]) not in seen:
        seen.add(found)
        key = found
    return key


def plan_ledger(batch: Iterable[Incoming], stored: Mapping[Ident, bytes] | None = None) -> Ledger:
    """`stored`: the `content` of the batch's events the store holds already (placeholders of
    retracted events not arrived yet hold none). The first stored version of an event stands:
    a later one with other content is a conflict, an equal one a duplicate."""
    first = dict(stored or {})
    unique: dict[Ident, Incoming] = {}
    conflicts = []
    given = 0
    for position, incoming in enumerate(batch):
        ident = incoming.ident
        earlier = unique.get(ident)
        # Content is compared only for a (source, id) seen before: serialising every event's
        # data canonically costs about as much as the rest of the plan.
        if earlier is not None and ident not in first:
            first[ident] = earlier.content
        if ident in first and first[ident] != incoming.content:
            conflicts.append(position)
            continue
        given += 1
        if earlier is None:
            unique[ident] = incoming
    events = tuple(unique[ident] for ident in sorted(unique))
    marks: dict[Ident, Mark] = {}
    for incoming in events:
        if incoming.retracted_id is not None:
            source, event_id = incoming.ident
            keep_earliest(marks, (source, incoming.retracted_id), (incoming.time, event_id))
    return Ledger(
        events, tuple((s, i, at, by) for (s, i), (at, by) in sorted(marks.items())), given, tuple(conflicts)
    )


@dataclass(frozen=True, slots=True)
class ClientRow:
    """A person's point fact as published: when it last stopped counting (None while it counts)
    and its record's revision; `point`, its event's `client_point` when read already."""

    source: str
    event_id: str
    event: Event
    retracted_at: datetime | None
    revision: int
    point: tuple[str, ClientFact] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Effects:
    """What follows from storing a batch's ledger rows.

    `rekeys`: retractions stored before the event they retract wait under its `retraction_key`;
    once it arrives they move to its entity. `recompute`: entities with new events, folded
    again; `since`, per such entity, the earliest recorded time of its new events when nothing
    else moved to it; `appended`, its new events when they are all it has new (no retraction
    among them or moved to it). `republish`: entities redelivered, whose stored fact is sent
    again, after the batch's own change of them if it has one: what the redelivered events
    changed may have been stored but never published (a crash in between), and a consumer would
    wait for ever for that change's revision, the base of every later one. `point_facts`: new
    point facts of persons to store; `fresh`: the records of those that nothing retracts, at
    hand; `clients` and `persons`: the records to read back, one by one or all of a person's,
    with `links` (the batch's new retractions) counting up the revisions they change."""

    rekeys: dict[str, str]
    recompute: tuple[str, ...]
    since: dict[str, datetime]
    appended: dict[str, tuple[Event, ...]]
    republish: tuple[str, ...]
    point_facts: tuple[PointFact, ...]
    fresh: tuple[ClientRow, ...]
    clients: frozenset[Ident]
    persons: frozenset[str]
    links: frozenset[Ident]
    new_by_type: Counter[str]
    duplicates: int


def plan_effects(
    ledger: Ledger,
    rows: Sequence[LedgerRow],
    new: Mapping[Ident, tuple[datetime | None, int]],
    marked_points: Iterable[Ident],
) -> Effects:
    """`new`: the rows the store did not hold yet, with when their earliest retraction was
    recorded (None: none) and their revision; `marked_points`: the stored point facts the
    batch's marks landed on (marking counts a row's revision up, also for a redelivered
    retraction: a point fact's record is published at its row's revision)."""
    touched: set[str] = set()
    since: dict[str, datetime] = {}
    appended: dict[str, list[Event]] = {}
    retracting: set[str] = set()
    republish: set[str] = set()
    clients: set[Ident] = set(marked_points)
    persons: set[str] = set()
    point_facts: list[PointFact] = []
    fresh: list[ClientRow] = []
    new_by_type: Counter[str] = Counter()
    for incoming, row in zip(ledger.events, rows, strict=True):
        ident = incoming.ident
        is_new = ident in new
        new_by_type[incoming.type] += is_new
        key = row.entity_key
        if incoming.type in CLIENT_EVENT_TYPES:
            if is_new:
                # From the data as validated where it is at hand: typing it again from its JSON
                # cost a quarter of the plan.
                typed = incoming.typed
                event = incoming.event
                client_ref, fact = client_point(event) if typed is None else point_of(incoming.type, typed)
                point_facts.append((record_id(*ident), client_ref, fact, incoming.time))
                retracted_at, revision = new[ident]
                if retracted_at is None:
                    fresh.append(ClientRow(*ident, event, None, revision, (client_ref, fact)))
                    continue
            clients.add(ident)
        elif incoming.retracted_id is not None:
            # The end of its chain, once arrived, counts anew: an entity, or a person's records.
            kind = key_kind(key)
            if is_new and kind != RETRACTION_KIND:
                (persons if kind == "client" else touched).add(key)
                retracting.add(key)
        else:
            (touched if is_new else republish).add(key)
            if is_new and new[ident][0] is None:
                appended.setdefault(key, []).append(incoming.event)
            elif is_new:
                retracting.add(key)
        if is_new:
            since[key] = min(row.time, since.get(key, row.time))
    keys = {(row.source, row.event_id): row.entity_key for row in rows}
    rekeys = {
        retraction_key(*ident): keys[ident]
        for ident, (retracted_at, _) in new.items()
        if retracted_at is not None and keys[ident] != retraction_key(*ident)
    }
    # Retractions moved to an entity count from their own times, which the batch does not hold.
    for key in rekeys.values():
        since.pop(key, None)
        retracting.add(key)
    return Effects(
        rekeys=rekeys,
        recompute=tuple(sorted(touched)),
        since={key: since[key] for key in touched if key in since},
        appended={key: tuple(events) for key, events in appended.items() if key not in retracting},
        republish=tuple(sorted(republish)),
        point_facts=tuple(point_facts),
        fresh=tuple(fresh),
        clients=frozenset(clients),
        persons=frozenset(persons),
        links=frozenset(ident for ident in ledger.retracted if ident in new),
        new_by_type=+new_by_type,
        duplicates=ledger.given - new_by_type.total(),
    )


def published_clients(
    rows: Iterable[tuple[Event, int]], retractions: Retractions, links: Collection[Ident] = ()
) -> tuple[list[ClientRow], list[Ident]]:
    """Stored point facts with their ledger revisions, as published under `retractions` (those
    of their persons); and those whose revision goes up: a record's revision is its ledger
    row's, which marking a retraction of it counts up, and `links` (new retractions) count up
    the records they retract further down a chain (a retraction of a retraction of it) too."""
    published = []
    bumped = []
    for event, revision in rows:
        ident = (event.source, event.id)
        stored = counted(event, retractions)
        if any(r.ident in links and r.target != ident for r in retractions.tree(ident)):
            bumped.append(ident)
            revision += 1
        published.append(ClientRow(event.source, event.id, event, stored.retracted_at, revision))
    return published, bumped


def client_records(rows: Iterable[ClientRow]) -> list[Outgoing]:
    """The records of point facts, each once."""
    unique = {(row.source, row.event_id): row for row in rows}
    return [client_record_of(row) for row in unique.values()]


def client_record_of(row: ClientRow, point: tuple[str, ClientFact] | None = None) -> Outgoing:
    """`point`: the row's `client_point`, when it is at hand already."""
    event = row.event
    client_ref, fact = point or row.point or client_point(event)
    key, value = client_record(
        record_id(row.source, row.event_id), client_ref, row.revision, event.time, row.retracted_at, fact
    )
    return Outgoing(key, value)


# Named tuples, this and `EntityWrite`: one of each per entity folded, cheaper to build than a
# frozen dataclass, which sets each field through `object.__setattr__`.
class Folded(NamedTuple):
    """What the live worker keeps of an entity between batches: at `revision`, where the fold of
    its events ended and its rows. `rows` go on with the entity's next versions in place: an
    entry is in use by one batch at a time, and kept again only once that batch is committed
    (`service.Folds`)."""

    revision: int
    memo: Memo[Any]
    rows: EntityRows


class EntityWrite(NamedTuple):
    """An entity's new history: `versions` from version number `first` on; versions before
    `rewrite_from` are stored already, unchanged. `fact`: its full change, stored (sent again on
    a redelivery), or None where it is not kept: a continued fold's would cost every row of the
    entity on every event, and a redelivery derives it from the events (`entity_full`);
    `change`: what is published, only the rows that changed on top of the revision
    before when those are known. `folded`: what to keep of it, when nothing retracts its events.
    `appended`: its versions before `rewrite_from` are stored as they were, the last of them
    the last stored (a continued fold)."""

    key: str
    kind: str
    revision: int
    fact: bytes | None
    change: bytes
    versions: list[Version]
    rewrite_from: int = 0
    first: int = 0
    folded: Folded | None = None
    appended: bool = False


def entity_write(
    key: str,
    stored: Sequence[Stored],
    current: tuple[int, bytes | None] = (0, None),
    since: datetime | None = None,
) -> EntityWrite:
    """An entity folded from its stored events; its revision follows `current`'s (the revision
    and full change stored last, if any). `since`: the earliest recorded time of the events that
    are new to it (None: unknown); its versions before that moment are unchanged."""
    return entity_written(key, history_memo(kind_of_key(key), stored), current, since)


def entity_written(
    key: str,
    folded_history: tuple[list[Version], Memo[Any] | None],
    current: tuple[int, bytes | None] = (0, None),
    since: datetime | None = None,
) -> EntityWrite:
    """`entity_write` of the entity's history as `history_memo` gives it; without a `Memo` (the
    rebuild's, from `history` or `unretracted_history`) nothing of the fold is kept."""
    kind = kind_of_key(key)
    versions, memo = folded_history
    revision, previous = current
    kept = 0 if since is None else bisect_left(versions, since, key=_recorded_from)
    before = full_rows(previous)
    rows = _rows(kind, key, versions, kept, before)
    after = rows.versions()
    change = None
    if before is not None:
        put, removed = row_change(before, after)
        change = entity_change(kind, key, revision + 1, revision, put, removed)
    fact = entity_change(kind, key, revision + 1, None, after, [])
    folded = None if memo is None else Folded(revision + 1, memo, rows)
    return EntityWrite(key, kind, revision + 1, fact, change or fact, versions, kept, 0, folded)


def entity_continued(key: str, folded: Folded, events: Sequence[Event]) -> EntityWrite | None:
    """`entity_write` for an entity whose stored events are those `folded` kept and, new, `events`,
    without its stored events: their fold goes on from where it ended, and its rows from the
    rows it had (`folded.rows`, which this extends). None when an event is not recorded after
    all those folded (it must be folded with them again); `folded` is then left as it was."""
    kind = kind_of_key(key)
    found = extend(kind, folded.memo, events)
    if found is None:
        return None
    versions, memo = found
    rows = folded.rows
    # The last version there was comes first: its recorded_to moves.
    first = folded.memo.numbered - 1
    put = rows.extend(_states(versions[1:]))
    revision = folded.revision
    change = entity_change(kind, key, revision + 1, revision, put, [])
    kept = Folded(revision + 1, memo, rows)
    return EntityWrite(
        key, kind, revision + 1, None, change, versions, folded.memo.numbered, first, kept, appended=True
    )


def entity_full(key: str, revision: int, stored: Sequence[Stored]) -> bytes:
    """The full change at `revision` of an entity whose stored events are `stored`: the one
    `entity_write` gives for them, for an entity whose full change is not kept."""
    kind = kind_of_key(key)
    return entity_fact(kind, key, revision, history(kind, stored))


def _rows(
    kind: str, key: str, versions: list[Version], kept: int, before: list[RowVersion] | None
) -> EntityRows:
    """The entity's row versions. When the rows `before` are those of versions whose first `kept`
    are these versions' first, the rows closed by the last of those stand, the rows it holds
    open go on, and only the versions from it on are derived again."""
    if before is None or kept == 0:
        return _added(EntityRows(kind, key), versions)
    at = versions[kept - 1].recorded_from
    closed = [r for r in before if r.recorded_to is not None and r.recorded_to <= at]
    opened = {
        r.row: r.recorded_from
        for r in before
        if r.recorded_from <= at and (r.recorded_to is None or r.recorded_to > at)
    }
    return _added(EntityRows(kind, key, closed, opened), versions[kept - 1 :])


def _added(rows: EntityRows, versions: Sequence[Version]) -> EntityRows:
    """`rows` with `versions` added. Only the rows after them are wanted, not what each version
    put in (`EntityRows.extend`): that bookkeeping cost a fifth of deriving a whole fold's rows."""
    for version in versions:
        rows.add(version.recorded_from, version.state)
    return rows


def _states(versions: Sequence[Version]) -> list[tuple[datetime, Any]]:
    return [(v.recorded_from, v.state) for v in versions]


def _recorded_from(version: Version) -> datetime:
    return version.recorded_from
