"""Materialises facts into the read models: one batch per transaction, highest revision wins."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_contract.facts import ClientRecord, EntityChange, Fact, client_fact_object
from stroom_contract.rows import ApplicationRow, PhaseRow, PlacementSpell, Recorded
from stroom_platform import dialect
from stroom_platform.organisations import OrganisationsConfig, load_organisations
from stroom_reporting import kpi_store
from stroom_reporting import tables as t
from stroom_reporting.domain.months import month_of
from stroom_reporting.domain.mutations import flow_deltas
from stroom_reporting.domain.spells import Chain, RowChanges, chain, changed_since, row_changes, rows_after
from stroom_reporting.domain.status import SpellVersion, late_changes, months_between

READ_MODELS = ("benefit", "placement", "application", "trajectory", "client")
RECORDED = ("recorded_from", "recorded_to")
# Per entity kind: its spell table and the columns after `entity`, in the order rows are built.
SPELL_COLUMNS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "benefit": (
        t.count_spells,
        (
            "unit",
            "municipality",
            "regulation",
            "start_date",
            "end_date",
            "start_month",
            "end_month",
            "inflow_reason",
            "outflow_reason",
            "client_ref",
            "role",
            "birth_date",
            *RECORDED,
        ),
    ),
    "placement": (t.placement_spells, (*PlacementSpell._fields, *RECORDED)),
    "application": (t.applications, (*ApplicationRow._fields, *RECORDED)),
    "trajectory": (t.phase_spells, (*PhaseRow._fields, *RECORDED)),
}
# The columns of t.client_records, in the order `_record_row` gives them (the key first).
RECORD_COLUMNS = (
    "record_id",
    "client_ref",
    "revision",
    "type",
    "on_date",
    "recorded_at",
    "retracted_at",
    "ladder_step",
    "target_step",
    "client_stream",
    "work_obligation_exempt",
    "coach_ref",
    "payload",
)
LATE_FLOW_COLUMNS = tuple(c.name for c in t.late_flows.columns if c.name != "id")
MonthKey = tuple[str, str, str, int]


@dataclass
class Applied:
    """What a batch changed: facts applied (changes, and client records of a newer revision),
    facts ignored (redelivered or superseded), months whose flows moved, and changes kept until
    their base arrives."""

    applied: int
    ignored: int
    changed_months: set[MonthKey]
    parked: int = 0


def _spell_rows(change: EntityChange, versions: Sequence[Recorded[Any]]) -> list[tuple[Any, ...]]:
    """A change's row versions as tuples in SPELL_COLUMNS order, after the entity."""
    entity = change.entity
    if change.kind == "benefit":
        return [
            (
                entity,
                unit,
                municipality,
                regulation,
                start_date,
                end_date,
                month_of(start_date),
                month_of(end_date) if end_date else None,
                inflow_reason,
                outflow_reason,
                client_ref,
                role,
                birth_date,
                recorded_from,
                recorded_to,
            )
            for (
                unit,
                _,
                municipality,
                regulation,
                start_date,
                end_date,
                inflow_reason,
                outflow_reason,
                client_ref,
                role,
                birth_date,
            ), recorded_from, recorded_to in versions
        ]
    return [(entity, *row, recorded_from, recorded_to) for row, recorded_from, recorded_to in versions]


def _add_flows(deltas: dict[MonthKey, list[int]], changes: RowChanges) -> None:
    """What count spell row changes do to the current monthly flows: only rows that are current
    (recorded_to None) before or after count."""
    taken_out = [row for _, row in changes.deleted if row[14] is None]
    put_in = [row for row in changes.inserted if row[14] is None]
    for _, to, row in changes.closed:
        if row[14] is None:
            taken_out.append(row)
        elif to is None:
            put_in.append(row)
    for rows, sign in ((taken_out, -1), (put_in, 1)):
        spells_of = ((r[2], r[3], r[1], r[6], r[7]) for r in rows)
        for key, (inflow, outflow) in flow_deltas(spells_of, sign).items():
            acc = deltas.setdefault(key, [0, 0])
            acc[0] += inflow
            acc[1] += outflow


def _version_of(row: Sequence[Any]) -> SpellVersion:
    """The count spell row (SPELL_COLUMNS order) as a version of domain.status."""
    return (row[2], row[3], row[1], row[6], row[7], row[13], row[14])


def _late_flow_rows(changes: RowChanges) -> list[tuple[Any, ...]]:
    """The late flow changes of count spell row changes, as rows of t.late_flows."""
    # A closed row is its version taken out and put back with the new recorded_to: only the
    # move of recorded_to changes flows, so its recorded_from is left out of both.
    versions = [
        *((_version_of(row), -1) for _, row in changes.deleted),
        *((_version_of((*row[:-2], None, row[-1])), -1) for _, _, row in changes.closed),
        *((_version_of((*row[:-2], None, to)), 1) for _, to, row in changes.closed),
        *((_version_of(row), 1) for row in changes.inserted),
    ]
    return [
        (m, r, u, month, at, months_between(month, at), inflow, outflow)
        for m, r, u, month, at, inflow, outflow in late_changes(versions)
    ]


@dataclass
class _Changed:
    """What a batch's entity changes did: the changes applied, per kind the entities they changed,
    the months whose flows moved, per benefit the recorded moment from which its rows changed,
    the persons of the changed benefits' rows after it (client, benefit), the persons of the
    applications' rows before and after, and how many changes wait for their base."""

    applied: list[EntityChange]
    entities: dict[str, list[str]]
    months: list[MonthKey]
    since: dict[str, datetime]
    persons: list[tuple[str, str]]
    applicants: set[str]
    parked: int


_CHANGE: TypeAdapter[EntityChange] = TypeAdapter(Annotated[EntityChange, Field(discriminator="kind")])


async def _chains(
    conn: AsyncConnection, changes: Sequence[EntityChange]
) -> tuple[dict[str, int], dict[str, Chain], int]:
    """The stored revision of the changes' entities, which changes apply to each (with those kept
    from earlier batches), and how many wait for their base now that did not before; the kept
    changes are brought up to date."""
    by_entity: dict[str, list[EntityChange]] = defaultdict(list)
    for change in changes:
        by_entity[change.entity].append(change)
    entities = list(by_entity)
    stored = dict(await dialect.select_where_in(conn, t.entities, "entity", entities, ("entity", "revision")))
    pending = t.pending_changes
    kept = await dialect.select_where_in(conn, pending, "entity", entities, ("entity", "revision", "change"))
    waiting = {(entity, revision) for entity, revision, _ in kept}
    for _, _, text in kept:
        change = _CHANGE.validate_json(text)
        by_entity[change.entity].append(change)
    chains = {entity: chain(stored.get(entity), of_entity) for entity, of_entity in by_entity.items()}
    parked = {(c.entity, c.revision): c for found in chains.values() for c in found.park}
    # Kept changes are parked again as they were, or applied, or superseded: an entity with one
    # gone has those it keeps written again, so that one statement deletes for the whole batch.
    gone = {entity for entity, revision in waiting if (entity, revision) not in parked}
    await dialect.delete_where_in(conn, pending, "entity", sorted(gone))
    new = [(e, r, c.model_dump_json()) for (e, r), c in parked.items() if (e, r) not in waiting]
    again = [(e, r, c.model_dump_json()) for (e, r), c in parked.items() if (e, r) in waiting and e in gone]
    await dialect.insert_rows(conn, pending, ("entity", "revision", "change"), [*new, *again])
    return stored, chains, len(new)


async def _apply_changes(conn: AsyncConnection, changes: Sequence[EntityChange], now: datetime) -> _Changed:
    """Apply each entity's changes that follow the revision it has (`domain.spells.chain`) to its
    rows, keeping the monthly aggregate in step (the months moved marked changed at `now`)."""
    stored, chains, parked = await _chains(conn, changes)
    applied = {entity: found.apply for entity, found in chains.items() if found.apply}
    deltas: dict[MonthKey, list[int]] = {}
    since: dict[str, datetime] = {}
    persons: list[tuple[str, str]] = []
    applicants: set[str] = set()
    entities: dict[str, list[str]] = {kind: [] for kind in SPELL_COLUMNS}
    for entity, chained in applied.items():
        entities[chained[0].kind].append(entity)
    for kind, (table, columns) in SPELL_COLUMNS.items():
        of_kind = entities[kind]
        # Entities seen for the first time have no rows to compare with: bulk loads skip the select.
        replaced = [entity for entity in of_kind if entity in stored]
        names = ("entity", *columns)
        old = await dialect.select_where_in(conn, table, "entity", replaced, ("id", *names))
        old_of: dict[str, list[Sequence[Any]]] = defaultdict(list)
        for row in old:
            old_of[row[1]].append(row)
        rows = [
            row
            for entity in of_kind
            for row in rows_after(
                old_of.get(entity, ()),
                (
                    (c.base is None, _spell_rows(c, c.rows), _spell_rows(c, c.removed))
                    for c in applied[entity]
                ),
            )
        ]
        changes_ = row_changes(old, rows)
        await dialect.delete_where_in(conn, table, "id", [i for i, _ in changes_.deleted])
        await dialect.update_rows(
            conn, table, "id", ("recorded_to",), [(i, to) for i, to, _ in changes_.closed]
        )
        await dialect.insert_rows(conn, table, names, changes_.inserted)
        if kind == "benefit":
            since = changed_since(changes_)
            # The changed benefits' rows as now stored: every version, kept or added.
            persons = sorted({(row[10], row[0]) for row in rows if row[10]})
            _add_flows(deltas, changes_)
            await dialect.insert_rows(conn, t.late_flows, LATE_FLOW_COLUMNS, _late_flow_rows(changes_))
        elif kind == "application":
            applicants = {row[2] for row in old} | {row[1] for row in rows}
    await dialect.write_rows(
        conn,
        t.entities,
        ("entity", "kind", "revision"),
        [(entity, chained[-1].kind, chained[-1].revision) for entity, chained in applied.items()],
        stored,
    )
    # Sorted: concurrent consumers lock the aggregate's rows in one order and cannot deadlock.
    changed = sorted((key, tuple(v)) for key, v in deltas.items() if v != [0, 0])
    yearly: dict[tuple[str, str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for (municipality, regulation, unit, month), (inflow, outflow) in changed:
        year = yearly[(municipality, regulation, unit, month // 100)]
        year[0] += inflow
        year[1] += outflow
    for table, period, moved, marked in (
        (t.monthly, "month", changed, ("changed_at",)),
        (t.year_flows, "year", sorted((key, tuple(v)) for key, v in yearly.items() if v != [0, 0]), ()),
    ):
        await dialect.upsert_rows(
            conn,
            table,
            ("municipality", "regulation", "unit", period, "inflow", "outflow", *marked),
            [(*key, inflow, outflow, *(now for _ in marked)) for key, (inflow, outflow) in moved],
            ("municipality", "regulation", "unit", period),
            {
                "inflow": f"{table.name}.inflow + excluded.inflow",
                "outflow": f"{table.name}.outflow + excluded.outflow",
                **{column: f"excluded.{column}" for column in marked},
            },
        )
    return _Changed(
        [c for chained in applied.values() for c in chained],
        entities,
        [key for key, _ in changed],
        since,
        persons,
        applicants,
        parked,
    )


# Per record type, the attribute that dates it.
_ON_DATE = {
    "assessment": "assessed_on",
    "coach_assignment": "assigned_on",
    "progress_report": "recorded_on",
    "plan": "sent_on",
    "sanction": "imposed_on",
}


def _record_row(record: ClientRecord) -> tuple[Any, ...]:
    """The record as a row of RECORD_COLUMNS."""
    fact = record.fact
    return (
        record.record_id,
        record.client_ref,
        record.revision,
        fact.type,
        getattr(fact, _ON_DATE[fact.type]),
        record.recorded_at,
        record.retracted_at,
        getattr(fact, "ladder_step", None),
        getattr(fact, "target_step", None),
        getattr(fact, "client_stream", None),
        getattr(fact, "work_obligation_exempt", None),
        getattr(fact, "coach_ref", None),
        # The client facts are plain dataclasses of dates, strings, numbers and code lists (str
        # enums): orjson writes the JSON pydantic would, byte for byte, in a third of the time.
        orjson.dumps(client_fact_object(fact)).decode(),
    )


async def _replace_records(
    conn: AsyncConnection, records: dict[str, ClientRecord]
) -> tuple[list[ClientRecord], dict[str, datetime], set[str]]:
    """Store the records newer than the stored ones; returns them, per record the recorded moment
    from which it may read differently (the earlier of its stored and new recorded_at), and the
    ids of those that replaced a stored row."""
    found = await dialect.select_where_in(
        conn, t.client_records, "record_id", list(records), ("record_id", "revision", "recorded_at")
    )
    stored = {i: (revision, recorded_at) for i, revision, recorded_at in found}
    winners = [r for i, r in records.items() if r.revision > stored.get(i, (-1, None))[0]]
    await dialect.write_rows(
        conn, t.client_records, RECORD_COLUMNS, [_record_row(r) for r in winners], stored
    )
    since = {r.record_id: r.recorded_at for r in winners}
    revised = {i for i in stored if i in since}
    for i in revised:
        since[i] = min(since[i], stored[i][1])
    return winners, since, revised


def _latest_recorded(
    changes: Sequence[EntityChange], records: Sequence[ClientRecord]
) -> tuple[Counter[str], dict[str, datetime]]:
    """Per read model, the facts applied and the newest recorded moment they tell of (none for
    changes without rows)."""
    applied: Counter[str] = Counter(change.kind for change in changes)
    moments: dict[str, list[datetime | None]] = {}
    for change in changes:
        told = moments.setdefault(change.kind, [])
        for version in (*change.rows, *change.removed):
            told += version[1:]
    latest = {kind: max(filter(None, told)) for kind, told in moments.items() if any(told)}
    if records:
        applied["client"] = len(records)
        retracted = [r.retracted_at for r in records if r.retracted_at is not None]
        latest["client"] = max([r.recorded_at for r in records] + retracted)
    return applied, latest


async def _touch_freshness(
    conn: AsyncConnection, changes: Sequence[EntityChange], records: Sequence[ClientRecord], now: datetime
) -> None:
    applied, latest = _latest_recorded(changes, records)
    rows = [(kind, now, latest[kind], applied[kind], latest[kind]) for kind in READ_MODELS if kind in latest]
    table = t.freshness.name
    await dialect.upsert_rows(
        conn,
        t.freshness,
        ("read_model", "applied_at", "latest_recorded", "facts_applied", "newest_recorded"),
        rows,
        ("read_model",),
        {
            "applied_at": "excluded.applied_at",
            "latest_recorded": "excluded.latest_recorded",
            "facts_applied": f"{table}.facts_applied + excluded.facts_applied",
            "newest_recorded": f"CASE WHEN {table}.newest_recorded IS NULL "
            f"OR excluded.newest_recorded > {table}.newest_recorded "
            f"THEN excluded.newest_recorded ELSE {table}.newest_recorded END",
        },
    )


async def move_generation(conn: AsyncConnection) -> None:
    """Move the read models' generation, in the transaction that changes them: answers kept under
    the one before are no longer served (service.answers), and listeners hear of it on commit."""
    table = t.generation.name
    await dialect.upsert_rows(
        conn, t.generation, ("id", "generation"), [(1, 1)], ("id",), {"generation": f"{table}.generation + 1"}
    )
    await dialect.notify(conn, t.GENERATION_MOVED)


@cache
def default_organisations() -> OrganisationsConfig:
    return load_organisations()


async def restate_kpis(conn: AsyncConnection, organisations: OrganisationsConfig | None = None) -> int:
    """Bring the KPI cells up to the facts applied (`kpi_store.restate_pending`) inside the
    caller's transaction, moving the generation when any was restated; returns how many benefits
    and plans were restated. `organisations`: as for `apply_facts`."""
    restated = await kpi_store.restate_pending(conn, organisations or default_organisations())
    if restated:
        await move_generation(conn)
    return restated


async def restate_kpis_apart(engine: AsyncEngine, organisations: OrganisationsConfig | None = None) -> int:
    """`restate_kpis` in a transaction of its own, as the consumer restates behind the facts."""
    async with engine.begin() as conn:
        return await restate_kpis(conn, organisations)


async def reclaim_pending(engine: AsyncEngine) -> None:
    """The space of the rows restates took from the pending queue (`kpi_store.mark`) made free:
    every batch of a backlog adds and replaces thousands and every restate deletes them, and left
    in the table they make each restate's read and each batch's upsert of it slower than the last."""
    await dialect.reclaim(engine, t.kpi_pending)


async def apply_facts(
    conn: AsyncConnection,
    facts: Iterable[Fact],
    now: datetime,
    organisations: OrganisationsConfig | None = None,
    restate: bool = True,
) -> Applied:
    """Apply a batch inside the caller's transaction; redelivered or older facts change nothing,
    and an entity's change whose base has not come yet waits for it. `organisations` (the
    versioned configuration when None) bounds where K5 and the revolving door look for a return.
    The KPI cells the batch can have changed are left pending for `restate_kpis` when `restate`
    is false, else restated in the same transaction."""
    changes: list[EntityChange] = []
    records: dict[str, ClientRecord] = {}
    count = 0
    for fact in facts:
        count += 1
        if fact.kind == "client":
            if fact.record_id not in records or fact.revision > records[fact.record_id].revision:
                records[fact.record_id] = fact
        else:
            changes.append(fact)
    changed = await _apply_changes(conn, changes, now)
    record_winners, record_since, revised = await _replace_records(conn, records)
    await kpi_store.mark(
        conn,
        changed.entities["benefit"],
        changed.persons,
        changed.entities["application"],
        changed.applicants,
        record_winners,
        changed.since,
        record_since,
        revised,
    )
    if restate:
        await kpi_store.restate_pending(conn, organisations or default_organisations())
    await _touch_freshness(conn, changed.applied, record_winners, now)
    await move_generation(conn)
    applied = len(changed.applied) + len(record_winners)
    return Applied(applied, count - applied - changed.parked, set(changed.months), changed.parked)
