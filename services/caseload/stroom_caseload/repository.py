"""All writes of the caseload service: the applied-event ledger, entity locks, state versions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    Integer,
    Select,
    Table,
    bindparam,
    cast,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES, effective_date
from stroom_caseload.domain.events import Event, Stored, effective, utc
from stroom_caseload.domain.plan import (
    ClientRow,
    EntityWrite,
    LedgerRow,
    PointFact,
    content,
    entity_full,
    published_clients,
)
from stroom_caseload.tables import Tables, dead_letters, live, shadow
from stroom_contract.chunked import changed_positions
from stroom_contract.events import RETRACTED
from stroom_contract.facts import (
    Assessment,
    BenefitState,
    ClientFact,
    CoachAssignment,
    EntityState,
    MemberSpell,
    PlacementState,
    PlanSent,
    ProgressReport,
    TrajectoryState,
    Version,
)
from stroom_contract.retractions import Ident, Retractions, chain_keys
from stroom_platform.dialect import (
    Closing,
    OnConflict,
    Reopening,
    Tails,
    bound_values,
    delete_tails,
    insert_dicts,
    insert_dicts_reading,
    insert_dicts_together,
    insert_on_conflict,
    is_postgres,
    keyed_rows,
    least_of,
    lock_names,
    member_of,
    pair_member_of,
    select_grouped,
)


@dataclass(frozen=True, slots=True)
class Target:
    """The row a retraction marks: its entity, once the retracted event itself has arrived."""

    source: str
    event_id: str
    entity_key: str | None
    type: str | None


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _encoded(fact: str | None) -> bytes | None:
    return None if fact is None else fact.encode()


class CaseloadRepository:
    """Bound to one connection inside one transaction; `tables` is the live or the shadow set."""

    def __init__(self, conn: AsyncConnection, tables: Tables = live) -> None:
        self.conn = conn
        self.t = tables
        # Entities locked in this transaction.
        self._locked: set[str] = set()

    async def _rows_where(self, statement: Select[Any], condition: Any, values: Sequence[Any]) -> list[Any]:
        """The rows of `statement` whose `condition` column is one of `values`."""
        found: list[Any] = []
        for member in member_of(self.conn, condition, values):
            found.extend(await self.conn.execute(statement.where(member)))
        return found

    async def upsert_events(
        self, rows: Sequence[LedgerRow], revisions_of: Sequence[str] = ()
    ) -> tuple[dict[tuple[str, str], tuple[datetime | None, int]], dict[str, int]]:
        """Store events whose (source, id) is not there yet, filling in placeholders left by their
        retraction; returns the new ones with retraction time and revision. Rows need distinct ids.
        With them, read in the same statement, the revision of each entity of `revisions_of` that
        has one (see `revisions`): a round trip less in every batch."""
        if not rows:
            return {}, await self.revisions(revisions_of)
        ev = self.t.events
        values = [
            {
                "source": row.source,
                "event_id": row.event_id,
                "entity_key": row.entity_key,
                "type": row.type,
                "time": row.time,
                "revision": 1,
            }
            for row in rows
        ]
        # Beside the rows' JSON (see `Texts`): inside it, each event's own JSON costs PostgreSQL more.
        wires = {"wire": [row.wire for row in rows]}
        # A placeholder left by a retraction (no wire yet) takes the event; a stored event stays.
        fill = OnConflict(
            ("source", "event_id"),
            {
                "entity_key": "excluded.entity_key",
                "type": "excluded.type",
                "time": 'excluded."time"',
                "wire": "excluded.wire",
                "revision": f"{ev.name}.revision + 1",
            },
            f"{ev.name}.wire IS NULL",
        )
        returning = ("source", "event_id", "retracted_at", "revision")
        if revisions_of:
            result, found = await insert_dicts_reading(
                self.conn,
                ev,
                values,
                fill,
                returning,
                *self._entities_read(revisions_of, ("entity_key", "revision")),
                wires,
            )
        else:
            result, found = await insert_dicts(self.conn, ev, values, fill, returning, wires), []
        # Unpacked: a row's attributes are looked up by name, which costs more than the rest.
        new = {(source, event_id): (_aware(at), revision) for source, event_id, at, revision in result}
        return new, dict(found)

    async def mark_retracted(self, marks: Sequence[tuple[str, str, datetime, str]]) -> list[Target]:
        """Record (source, retracted id, time, retraction id) on each target's row, creating a
        placeholder where the target has not arrived. Targets need to be distinct."""
        if not marks:
            return []
        ev = self.t.events
        new = insert_on_conflict(self.conn, ev)
        # The earliest retraction counts; with two workers the row lock serialises them.
        stmt = new.on_conflict_do_update(
            index_elements=[ev.c.source, ev.c.event_id],
            set_={
                "retracted_at": least_of(self.conn, ev.c.retracted_at, new.excluded.retracted_at),
                "retracted_by": func.coalesce(ev.c.retracted_by, new.excluded.retracted_by),
                "revision": ev.c.revision + 1,
            },
        ).returning(ev.c.source, ev.c.event_id, ev.c.entity_key, ev.c.type)
        values = [
            {"source": s, "event_id": i, "retracted_at": at, "retracted_by": by, "revision": 1}
            for s, i, at, by in marks
        ]
        result = await self.conn.execute(stmt, values)
        return [Target(r.source, r.event_id, r.entity_key, r.type) for r in result]

    async def share_apply_lock(self, key: int, entities: Sequence[str] = (), taken: bool = False) -> None:
        """Held by every batch of the live workers, so that a rebuild's swap can shut them out;
        with the locks of `entities` (see `lock_entities`) in the same round trip. `taken`: the
        transaction began holding them (`transaction_locking`)."""
        if not taken:
            await lock_names(self.conn, entities, shared=key)
        self._locked.update(entities)

    async def lock_entities(self, keys: Sequence[str]) -> None:
        """Serialise recomputes of one entity across workers (SQLite has a single writer anyway;
        the shadow set has one, the rebuild). Those locked already are not asked for again; the
        others come after them, out of the sorted order, which in a rare circle with another
        worker makes a deadlock that PostgreSQL breaks and the batch is tried again."""
        if self.t is live:
            await lock_names(self.conn, [key for key in keys if key not in self._locked])
            self._locked.update(keys)

    async def fold_inputs(
        self, keys: Sequence[str]
    ) -> tuple[dict[str, list[Stored]], dict[str, tuple[int, bytes | None]]]:
        """Each entity's events with the stretches they count in (its retractions are keyed by
        it), and the revision and fact it has (see `current`), read together: one round trip
        less in every batch, whose own cost is most of a small batch's."""
        if not keys:
            return {}, {}  # a batch of persons' point facts only: no round trip for it
        ev, en = self.t.events, self.t.entities
        found: dict[str, list[Event]] = defaultdict(list)
        current: dict[str, tuple[int, bytes | None]] = {}
        for events_of, entities_of in zip(
            member_of(self.conn, ev.c.entity_key, keys),
            member_of(self.conn, en.c.entity_key, keys),
            strict=True,
        ):
            # An event's row has no revision here, an entity's always has one.
            statement = union_all(
                select(
                    ev.c.entity_key, ev.c.wire.label("text"), cast(null(), Integer).label("revision")
                ).where(events_of, ev.c.wire.is_not(None)),
                select(en.c.entity_key, en.c.fact, en.c.revision).where(entities_of),
            )
            for row in await self.conn.execute(statement):
                if row.revision is None:
                    found[row.entity_key].append(Event.from_wire(orjson.loads(row.text)))
                else:
                    current[row.entity_key] = (row.revision, _encoded(row.text))
        return {key: effective(events) for key, events in found.items()}, current

    async def rekey(self, moves: Mapping[str, str]) -> None:
        """Rows keyed by the first key of a pair (retractions waiting under `retraction_key` of an
        event that has arrived now) get the second."""
        if not moves:
            return
        ev = self.t.events
        await self.conn.execute(
            ev.update().where(ev.c.entity_key == bindparam("waiting")).values(entity_key=bindparam("found")),
            [{"waiting": waiting, "found": found} for waiting, found in moves.items()],
        )

    async def resolve_retraction_keys(self) -> None:
        """Every retraction keyed by the event at the end of its chain, as the live path keys it
        as its links arrive: for a ledger loaded in another order (the rebuild's)."""
        ev = self.t.events
        rows = await self.conn.execute(
            select(ev.c.source, ev.c.event_id, ev.c.entity_key, ev.c.wire).where(
                ev.c.type == RETRACTED, ev.c.wire.is_not(None)
            )
        )
        keyed: dict[Ident, str] = {}
        retracted: dict[Ident, str] = {}
        for row in rows:
            keyed[(row.source, row.event_id)] = row.entity_key
            retracted[(row.source, row.event_id)] = orjson.loads(row.wire)["data"]["retracted_id"]
        targets = sorted({(source, target) for (source, _), target in retracted.items()} - keyed.keys())
        known = {ident: key for ident, (key, _) in (await self._keys_of(targets)).items()}
        moved = [
            {"s": source, "i": event_id, "k": key}
            for (source, event_id), key in chain_keys(retracted, known).items()
            if keyed[(source, event_id)] != key
        ]
        if moved:
            await self.conn.execute(
                ev.update()
                .where(ev.c.source == bindparam("s"), ev.c.event_id == bindparam("i"))
                .values(entity_key=bindparam("k")),
                moved,
            )

    async def _keys_of(self, idents: Sequence[Ident]) -> dict[Ident, tuple[str, str]]:
        """Entity key and type of each stored event of `idents`."""
        ev = self.t.events
        rows = await self._stored_rows(idents, ev.c.entity_key, ev.c.type)
        return {(r.source, r.event_id): (r.entity_key, r.type) for r in rows}

    async def stored_contents(self, idents: Sequence[Ident]) -> dict[Ident, bytes]:
        """The `content` of each stored event of `idents`: what a redelivery has to repeat."""
        ev = self.t.events
        rows = await self._stored_rows(idents, ev.c.type, ev.c.wire)
        return {(r.source, r.event_id): content(r.type, orjson.loads(r.wire)["data"]) for r in rows}

    async def _stored_rows(self, idents: Sequence[Ident], *columns: Any) -> list[Any]:
        """`columns` of the stored events (not placeholders) of `idents`, with their (source, id)."""
        ev = self.t.events
        found: list[Any] = []
        if not idents:
            return found
        # Two arrays, not a row value per event: building and compiling thousands of bound pairs
        # cost the live worker more CPU than the rest of this check.
        statement = select(ev.c.source, ev.c.event_id, *columns).where(ev.c.wire.is_not(None))
        for member in pair_member_of(self.conn, ev.c.source, ev.c.event_id, idents):
            found.extend(await self.conn.execute(statement.where(member)))
        return found

    async def current(self, keys: Sequence[str]) -> dict[str, tuple[int, bytes | None]]:
        """Revision and full change of each entity that has one (None: not kept)."""
        if not keys:
            return {}  # a batch mostly republishes nothing: no round trip for it
        rows = await self._entities(keys, ("entity_key", "revision", "fact"))
        return {row.entity_key: (row.revision, _encoded(row.fact)) for row in rows}

    async def revisions(self, keys: Sequence[str]) -> dict[str, int]:
        """The revision of each entity that has one."""
        if not keys:
            return {}
        rows = await self._entities(keys, ("entity_key", "revision"))
        return {row.entity_key: row.revision for row in rows}

    async def _entities(self, keys: Sequence[str], columns: tuple[str, ...]) -> list[Any]:
        """`columns` of the entities of `keys` that have a row."""
        return list(await self.conn.execute(*self._entities_read(keys, columns)))

    def _entities_read(
        self, keys: Sequence[str], columns: tuple[str, ...]
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The statement of `_entities` and its parameters."""
        statement = _entities_where(self.t.entities, columns, is_postgres(self.conn))
        return statement, {"keys": bound_values(self.conn, keys)}

    async def current_facts(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Each entity's full change at its stored revision: as stored, or derived from its
        stored events where none is kept (`derived_facts`)."""
        current = await self.current(list(keys))
        facts = {key: fact for key, (_, fact) in current.items() if fact is not None}
        facts.update(await self.derived_facts(sorted(current.keys() - facts.keys())))
        return facts

    async def derived_facts(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The full change of each entity of `keys` at its stored revision, derived from its
        stored events where none is kept. The events and the revision are read together, so
        they agree whatever another worker stored since an earlier read."""
        stored, current = await self.fold_inputs(keys)
        return {
            key: fact if fact is not None else entity_full(key, revision, stored.get(key, []))
            for key, (revision, fact) in current.items()
        }

    async def save_entities(
        self, saved: Sequence[EntityWrite], point_facts: Sequence[PointFact] = ()
    ) -> None:
        """Store each entity's fact and its state rows from version `rewrite_from` on: the
        per-version tables from the version before (its `recorded_to` moves: an appended
        entity's row of it is closed in place, another's written again), the spell tables on top
        of that version's spells (an appended entity's are stored open as they are; for another
        the spell versions begun after it go, and those it holds open again). With them, in the
        same statement (a round trip less in nearly every batch), the persons' new point facts
        as (record id, client_ref, fact, recorded at); a record already there is left alone."""
        if not saved and not point_facts:
            return
        t = self.t
        spell_tables = (t.members, t.phases)
        versioned = tuple(table for table in t.states if table not in spell_tables)
        # The version before the first changed one is rewritten too: its `recorded_to` moves.
        froms = [max(entity.rewrite_from - 1, 0) for entity in saved]
        # An entity at its first revision has no state rows yet: nothing to look for (most of a
        # batch's entities under load are new), and no round trip for a batch of only those.
        stored = [(e, f) for e, f in zip(saved, froms, strict=True) if e.revision > 1]
        redone = [(e, f) for e, f in stored if not e.appended]
        # An appended entity's last stored version is closed in place (`state_rows`), not
        # deleted and inserted again: a batch of appended entities deletes nothing. Of another,
        # its spell versions go whole (nothing kept), or those begun after the version kept,
        # and those it holds open again.
        await delete_tails(
            self.conn,
            [
                Tails(versioned, "entity_key", "version", [(e.key, f) for e, f in redone]),
                Tails(
                    spell_tables,
                    "entity_key",
                    "version",
                    [(e.key, f + 1 if e.rewrite_from > 0 else 0) for e, f in redone],
                ),
            ],
            [
                Reopening(
                    spell_tables,
                    "entity_key",
                    "version",
                    "recorded_to",
                    [
                        (e.key, f + 1, e.versions[f - e.first].recorded_from)
                        for e, f in redone
                        if e.rewrite_from > 0
                    ],
                )
            ],
        )
        rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        closed: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        for entity, start in zip(saved, froms, strict=True):
            spells_from = start + 1 if entity.rewrite_from > 0 else 0
            begin = start + 1 if entity.appended else start
            writes = state_values(
                t, entity.key, entity.versions, begin, entity.first, spells_from, close_before=entity.appended
            )
            # Each row's dict made here, not by `state_rows`: a call and a list less per entity.
            for table, cells in writes.rows:
                rows[table].append(dict(zip(STATE_COLUMNS[table], cells, strict=True)))
            for table, row in writes.closed:
                closed[table].append(row)
        en = t.entities
        values = [{"entity_key": e.key, "kind": e.kind, "revision": e.revision} for e in saved]
        # Beside the rows' JSON, as an event's wire is (`upsert_events`).
        facts = {"fact": [None if e.fact is None else e.fact.decode() for e in saved]}
        replace = OnConflict(("entity_key",), {"revision": "excluded.revision", "fact": "excluded.fact"})
        table_writes: list[tuple[Table, Sequence[dict[str, Any]], OnConflict | None]] = [
            (table, table_rows, None) for table, table_rows in rows.items()
        ]
        points = [client_fact_row(*fact) for fact in point_facts]
        # Before the inserts: the rows begun now are open too.
        closings = [
            Closing(table, ("entity_key", "version" if table in versioned else "seq"), "recorded_to", ends)
            for table, ends in closed.items()
        ]
        await insert_dicts_together(
            self.conn,
            [*table_writes, (en, values, replace), (t.client_facts, points, OnConflict(("record_id",)))],
            closings,
            {en: facts},
        )

    async def client_revisions(self) -> dict[tuple[str, str], int]:
        """The ledger revision of every stored point fact of a person."""
        ev = self.t.events
        # By source: a ledger holds many events of few sources.
        grouped = await select_grouped(
            self.conn,
            ev.c.source,
            (ev.c.event_id, ev.c.revision),
            ev.c.wire.is_not(None),
            ev.c.type.in_(sorted(CLIENT_EVENT_TYPES)),
        )
        return {
            (source, event_id): revision
            for source, ids, revisions in grouped
            for event_id, revision in zip(ids, revisions, strict=True)
        }

    async def client_rows(
        self, ids: Iterable[tuple[str, str]], links: Collection[Ident] = ()
    ) -> list[ClientRow]:
        """The point facts of `ids`; see `_with_retractions` for `links`."""
        ev = self.t.events
        wanted = sorted(set(ids))
        if not wanted:
            return []
        statement = select(ev.c.entity_key, ev.c.wire, ev.c.revision).where(
            ev.c.wire.is_not(None),
            # A reused (source, id) is a duplicate of the stored event, whatever its type.
            ev.c.type.in_(sorted(CLIENT_EVENT_TYPES)),
        )
        rows: list[Any] = []
        for member in pair_member_of(self.conn, ev.c.source, ev.c.event_id, wanted):
            rows.extend(await self.conn.execute(statement.where(member)))
        return await self._with_retractions(rows, links)

    async def person_rows(self, keys: Iterable[str], links: Collection[Ident] = ()) -> list[ClientRow]:
        """Every point fact of the persons keyed `client:<ref>`; see `_with_retractions`."""
        wanted = sorted(set(keys))
        if not wanted:
            return []
        ev = self.t.events
        rows = await self._rows_where(
            select(ev.c.entity_key, ev.c.wire, ev.c.revision).where(
                ev.c.wire.is_not(None), ev.c.type.in_(sorted(CLIENT_EVENT_TYPES))
            ),
            ev.c.entity_key,
            wanted,
        )
        return await self._with_retractions(rows, links)

    async def _with_retractions(self, rows: Sequence[Any], links: Collection[Ident]) -> list[ClientRow]:
        """Client rows (entity key, wire, revision) as published (see `published_clients`), under
        their persons' retractions, which are keyed by the person; stores the revisions it counts up."""
        events = [(Event.from_wire(orjson.loads(r.wire)), r.revision) for r in rows]
        persons = sorted({r.entity_key for r in rows})
        retractions = Retractions()
        if persons:
            ev = self.t.events
            found = await self._rows_where(
                select(ev.c.wire).where(ev.c.type == RETRACTED, ev.c.wire.is_not(None)),
                ev.c.entity_key,
                persons,
            )
            for (wire,) in found:
                retractions.add(Event.from_wire(orjson.loads(wire)).retraction())
        published, bumped = published_clients(events, retractions, links)
        if bumped:
            ev = self.t.events
            await self.conn.execute(
                ev.update()
                .where(ev.c.source == bindparam("s"), ev.c.event_id == bindparam("i"))
                .values(revision=ev.c.revision + 1),
                [{"s": source, "i": event_id} for source, event_id in bumped],
            )
        return published

    async def sync_client_retractions(self, rows: Sequence[ClientRow]) -> None:
        """Copy each client record's retraction time, or its absence, onto its fact row."""
        cf = self.t.client_facts
        values = [{"rid": f"{r.source}|{r.event_id}", "at": r.retracted_at} for r in rows]
        if values:
            await self.conn.execute(
                cf.update().where(cf.c.record_id == bindparam("rid")).values(retracted_at=bindparam("at")),
                values,
            )

    async def record_dead_letters(self, letters: Sequence[tuple[str, int, int, str]]) -> None:
        """A batch's dead letters, each (topic, partition, offset, reason), in one statement. Once
        per record: a batch applied again after a crash before its offsets were committed records
        its dead letters again, and the first record of each stands."""
        received_at = datetime.now(UTC)
        rows = [
            {
                "received_at": received_at,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "reason": reason,
            }
            for topic, partition, offset, reason in letters
        ]
        await insert_dicts(self.conn, dead_letters, rows, DEAD_LETTER_POSITION)

    async def dead_letter_count(self) -> int:
        """The records dead-lettered and not replayed since: one replayed and refused again counts
        once, where the replay put it; one replayed and applied no longer counts."""
        waiting = select(func.count()).select_from(dead_letters).where(dead_letters.c.replayed_at.is_(None))
        return int((await self.conn.execute(waiting)).scalar_one())

    async def mark_replayed(self, places: Sequence[tuple[str, int, int]], at: datetime) -> None:
        """The dead letters read at these (topic, partition, offset) offered again at `at`."""
        d = dead_letters.c
        if places:
            await self.conn.execute(
                dead_letters.update()
                .where(
                    d.topic == bindparam("t"),
                    d.partition == bindparam("p"),
                    d.offset == bindparam("o"),
                    d.replayed_at.is_(None),
                )
                .values(replayed_at=at),
                [{"t": topic, "p": partition, "o": offset} for topic, partition, offset in places],
            )


# A record is dead-lettered once, where it was read.
DEAD_LETTER_POSITION = OnConflict(("topic", "partition", "offset"))


# The client facts table's columns in the order `client_fact_values` gives a row's values: first
# those of every fact, then those of each kind of fact (`_client_fact_columns`).
CLIENT_FACT_COLUMNS = (
    "record_id",
    "client_ref",
    "type",
    "effective_date",
    "recorded_at",
    "retracted_at",
    "coach_ref",
    "ladder_step",
    "target_step",
    "client_stream",
    "work_obligation_exempt",
    "long_trajectory",
    "plan_ref",
    "application_ref",
    "sanction_kind",
    "benefit_ref",
)


@cache
def _entities_where(entities: Table, columns: tuple[str, ...], postgres: bool) -> Select[Any]:
    """`columns` of the entities whose key is among those bound as `keys`: built once, as every
    batch reads its entities' revisions, and a statement built with its keys in it cost the
    client more to build and to find in the compiled cache than to run."""
    return keyed_rows(entities.c.entity_key, [entities.c[column] for column in columns], "keys", postgres)


def _client_fact_columns(fact: ClientFact) -> tuple[Any, ...]:
    """The values of a fact's own columns, from `coach_ref` to `benefit_ref`; None in the others."""
    # Progress reports first: most of a person's point facts.
    if isinstance(fact, ProgressReport):
        return (None, None, None, None, None, fact.long_trajectory, None, None, None, None)
    if isinstance(fact, Assessment):
        return (
            None,
            fact.ladder_step,
            fact.target_step,
            fact.client_stream,
            fact.work_obligation_exempt,
            None,
            None,
            None,
            None,
            None,
        )
    if isinstance(fact, CoachAssignment):
        return (fact.coach_ref, None, None, None, None, None, None, None, None, None)
    if isinstance(fact, PlanSent):
        return (None, None, None, None, None, None, fact.plan_ref, fact.application_ref, None, None)
    return (None, None, None, None, None, None, None, None, fact.kind, fact.benefit_ref)


def event_columns(ev: Table) -> tuple[Any, ...]:
    """What `ledger_event` takes of a ledger row, and its retraction time."""
    return ev.c.source, ev.c.event_id, ev.c.type, ev.c.time, ev.c.wire, ev.c.retracted_at


def ledger_event(source: str, event_id: str, kind: str, time: datetime, wire: str) -> Event:
    """An event from its ledger row's columns: the time column holds the wire's time, already
    parsed by the driver, so only `data` is read from the wire."""
    return Event(source, event_id, kind, utc(time), orjson.loads(wire)["data"])


def client_fact_values(
    record_id: str, client_ref: str, fact: ClientFact, recorded_at: datetime, retracted_at: datetime | None
) -> tuple[Any, ...]:
    """A row of the client facts table, its values in the order of `CLIENT_FACT_COLUMNS`:
    the rebuild appends it as it is, without a dict per row."""
    own = _client_fact_columns(fact)
    # Joined in C: unpacked into the literal, the fact's own columns went through a list first.
    return (record_id, client_ref, fact.type, effective_date(fact), recorded_at, retracted_at) + own  # noqa: RUF005


def client_fact_row(
    record_id: str, client_ref: str, fact: ClientFact, recorded_at: datetime
) -> dict[str, Any]:
    """A row of the client facts table, not (yet) retracted."""
    # The fact's own columns unpacked into a literal, not zipped with their names: the live path
    # builds one per point fact.
    coach, ladder, target, stream, exempt, long_trajectory, plan, application, sanction, benefit = (
        _client_fact_columns(fact)
    )
    return {
        "coach_ref": coach,
        "ladder_step": ladder,
        "target_step": target,
        "client_stream": stream,
        "work_obligation_exempt": exempt,
        "long_trajectory": long_trajectory,
        "plan_ref": plan,
        "application_ref": application,
        "sanction_kind": sanction,
        "benefit_ref": benefit,
        "record_id": record_id,
        "client_ref": client_ref,
        "type": fact.type,
        "effective_date": effective_date(fact),
        "recorded_at": recorded_at,
    }


# The columns of each state table in the order `state_values` gives a row's values: first the
# row's place (the entity, its version, a spell's seq) and recorded time, then its state's.
_VERSIONED = ("entity_key", "version", "recorded_from", "recorded_to")
_SPELL = ("entity_key", "version", "seq", "recorded_from", "recorded_to")
_BENEFIT = ("municipality", "regulation", "start_date", "end_date")
_TRAJECTORY = ("client_ref", "municipality", "end_date")


def _state_columns(t: Tables) -> dict[Table, tuple[str, ...]]:
    return {
        t.benefits: (*_VERSIONED, *_BENEFIT, "inflow_reason", "outflow_reason", "application_ref"),
        t.placements: (
            *_VERSIONED,
            "client_ref",
            "municipality",
            "kind",
            "start_date",
            "end_date",
            "hours_per_week",
            "employer_ref",
            "end_reason",
        ),
        t.trajectories: (*_VERSIONED, *_TRAJECTORY, "outcome"),
        t.applications: (
            *_VERSIONED,
            "client_ref",
            "municipality",
            "regulation",
            "received_on",
            "decision",
            "decided_on",
        ),
        t.members: (*_SPELL, *_BENEFIT, "client_ref", "role", "birth_date", "joined_on", "left_on"),
        t.phases: (*_SPELL, *_TRAJECTORY, "phase", "effective_date", "until"),
    }


# Each state table's columns, live and shadow, in the order of its rows' values in
# `state_values`: found by the table, which hashes in C, where `Tables` hashes its fields in Python.
STATE_COLUMNS = {**_state_columns(live), **_state_columns(shadow)}


@dataclass(frozen=True, slots=True)
class StateWrites:
    """What storing an entity's new versions writes in the state tables: `rows` to insert, and
    `closed`, stored spell versions (members, phases) that end: per table, the entity's key,
    the seq and the moment (as `recorded_to`) of the open row to close."""

    rows: list[tuple[Table, dict[str, Any]]]
    closed: list[tuple[Table, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class StateValues:
    """`StateWrites` with each row to insert as its values in its table's `STATE_COLUMNS` order:
    the rebuild appends them as they are, without a dict per row."""

    rows: list[tuple[Table, tuple[Any, ...]]]
    closed: list[tuple[Table, dict[str, Any]]]


def state_rows(
    t: Tables, key: str, versions: list[Version], *numbers: int, close_before: bool = False
) -> StateWrites:
    """`state_values` (`numbers`: its `start`, `first` and `spells_from`, as far as given) with
    each row as a dict of its columns."""
    values = state_values(t, key, versions, *numbers, close_before=close_before)
    rows = [(table, dict(zip(STATE_COLUMNS[table], row, strict=True))) for table, row in values.rows]
    return StateWrites(rows, values.closed)


def state_values(
    t: Tables,
    key: str,
    versions: list[Version],
    start: int = 0,
    first: int = 0,
    spells_from: int = 0,
    *,
    close_before: bool = False,
) -> StateValues:
    """The state rows of the entity's versions (`versions` are those from number `first` on).
    The per-version tables get a row per version from number `start` on; with `close_before`,
    the row of the version before `start` is stored open and ends where version `start`
    begins (in `closed`, keyed by its version). The spell tables get a row version per spell
    (a member, a phase) from the version where it begins to the first where it differs: from
    number `spells_from` on, on top of the spells of the version before it, stored open (none
    before version 0)."""
    rows: list[tuple[Table, tuple[Any, ...]]] = []
    closed: list[tuple[Table, dict[str, Any]]] = []
    before = start - 1 - first
    if close_before and 0 <= before < len(versions) - 1 and (state := versions[before].state) is not None:
        closed.append(
            (
                _version_table(t, state),
                {"entity_key": key, "version": start - 1, "recorded_to": versions[before + 1].recorded_from},
            )
        )
    for number in range(start, first + len(versions)):
        at = number - first
        version = versions[at]
        state = version.state
        if state is None:
            continue
        until = versions[at + 1].recorded_from if at + 1 < len(versions) else None
        rows.append(_version_row(t, key, number, version.recorded_from, until, state))
    previous = _spells(t, versions[spells_from - 1 - first].state) if spells_from > 0 else None
    # Spell versions begun in these versions, by (table, seq): their version, when they began
    # and their state's values; one that ends again is still here.
    begun: dict[tuple[Table, int], tuple[int, datetime, tuple[Any, ...]]] = {}
    for number in range(spells_from, first + len(versions)):
        version = versions[number - first]
        current = _spells(t, version.state)
        if current is None and previous is None:
            # Placements and applications: no spells at all.
            continue
        moment = version.recorded_from
        for table, seq in _changed(previous, current):
            open_ = begun.pop((table, seq), None)
            if open_ is not None:
                began, since, values = open_
                rows.append((table, (key, began, seq, since, moment) + values))  # noqa: RUF005
            elif previous is not None and table is previous.table and seq < len(previous.items):
                closed.append((table, {"entity_key": key, "seq": seq, "recorded_to": moment}))
            if current is not None and table is current.table and seq < len(current.items):
                begun[(table, seq)] = (number, moment, current.shared + current.columns(current.items[seq]))
        previous = current
    # Joined in C, each spell row: unpacked into the literal, its values went through a list first.
    for (table, seq), (began, since, values) in begun.items():
        rows.append((table, (key, began, seq, since, None) + values))  # noqa: RUF005
    return StateValues(rows, closed)


class _Spells(NamedTuple):
    """A state's spells (a benefit's members, a trajectory's phases) as its spell table stores
    them: the values every row shares, and each spell's own (`columns` of an item). A named
    tuple, made by `tuple.__new__` in C (its own constructor is a Python function): there is
    one per version of a benefit or a trajectory."""

    table: Table
    shared: tuple[Any, ...]
    items: Sequence[Any]
    columns: Callable[[Any], tuple[Any, ...]]


_made = tuple.__new__


def _spells(t: Tables, state: EntityState | None) -> _Spells | None:
    if isinstance(state, BenefitState):
        shared: tuple[Any, ...] = (state.municipality, state.regulation, state.start_date, state.end_date)
        return _made(_Spells, (t.members, shared, state.members, _member_columns))
    if isinstance(state, TrajectoryState):
        shared = (state.client_ref, state.municipality, state.end_date)
        phases = state.phases
        items = [
            (
                spell.phase,
                spell.effective_date,
                phases[seq + 1].effective_date if seq + 1 < len(phases) else None,
            )
            for seq, spell in enumerate(phases)
        ]
        return _made(_Spells, (t.phases, shared, items, _phase_columns))
    return None


def _member_columns(m: MemberSpell) -> tuple[Any, ...]:
    return m.client_ref, m.role, m.birth_date, m.joined_on, m.left_on


def _phase_columns(item: tuple[Any, date, date | None]) -> tuple[Any, ...]:
    # An item is its phase, effective date and until already.
    return item


def _changed(before: _Spells | None, after: _Spells | None) -> Iterable[tuple[Table, int]]:
    """The (table, seq) of the spells whose row differs from `before` to `after`."""
    # The shared columns compared as dicts, without a tuple of their values made for each side.
    if before is None or after is None or before.table is not after.table or before.shared != after.shared:
        gone = [] if before is None else [(before.table, seq) for seq in range(len(before.items))]
        came = [] if after is None else [(after.table, seq) for seq in range(len(after.items))]
        return dict.fromkeys(gone + came)
    return [(after.table, seq) for seq in changed_positions(before.items, after.items)]


def _version_table(t: Tables, state: EntityState) -> Table:
    """The table with a row per version of the state's kind of entity."""
    if isinstance(state, BenefitState):
        return t.benefits
    if isinstance(state, PlacementState):
        return t.placements
    if isinstance(state, TrajectoryState):
        return t.trajectories
    return t.applications


def _version_row(
    t: Tables,
    key: str,
    number: int,
    recorded_from: datetime,
    recorded_to: datetime | None,
    state: EntityState,
) -> tuple[Table, tuple[Any, ...]]:
    """The row of one version in the table of the state's kind of entity (`_version_table`), its
    values in the order of `STATE_COLUMNS`: this runs for every version folded, and the rebuild
    appends the tuple as it is. Each row a tuple literal of its values: one that unpacks a tuple
    of the row's place is built through a list."""
    if isinstance(state, BenefitState):
        return t.benefits, (
            key,
            number,
            recorded_from,
            recorded_to,
            state.municipality,
            state.regulation,
            state.start_date,
            state.end_date,
            state.inflow_reason,
            state.outflow_reason,
            state.application_ref,
        )
    if isinstance(state, PlacementState):
        return t.placements, (
            key,
            number,
            recorded_from,
            recorded_to,
            state.client_ref,
            state.municipality,
            state.kind,
            state.start_date,
            state.end_date,
            state.hours_per_week,
            state.employer_ref,
            state.end_reason,
        )
    if isinstance(state, TrajectoryState):
        return t.trajectories, (
            key,
            number,
            recorded_from,
            recorded_to,
            state.client_ref,
            state.municipality,
            state.end_date,
            state.outcome,
        )
    return t.applications, (
        key,
        number,
        recorded_from,
        recorded_to,
        state.client_ref,
        state.municipality,
        state.regulation,
        state.received_on,
        state.decision,
        state.decided_on,
    )
