"""Materialises facts into the read models: one batch per transaction, highest revision wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_contract.facts import (
    ApplicationHistory,
    BenefitHistory,
    ClientFact,
    ClientRecord,
    Fact,
    PlacementHistory,
)
from stroom_platform import dialect
from stroom_platform.organisations import OrganisationsConfig, load_organisations
from stroom_reporting import kpi_store
from stroom_reporting import tables as t
from stroom_reporting.domain import spells
from stroom_reporting.domain.months import month_of
from stroom_reporting.domain.mutations import flow_deltas
from stroom_reporting.domain.spells import RowChanges, changed_since, row_changes
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
    "placement": (t.placement_spells, (*spells.PlacementSpell._fields, *RECORDED)),
    "application": (t.applications, (*spells.ApplicationRow._fields, *RECORDED)),
    "trajectory": (t.phase_spells, (*spells.PhaseRow._fields, *RECORDED)),
}
RECORD_COLUMNS = tuple(c.name for c in t.client_records.columns)
LATE_FLOW_COLUMNS = tuple(c.name for c in t.late_flows.columns if c.name != "id")
MonthKey = tuple[str, str, str, int]


@dataclass
class Applied:
    """What a batch changed: facts that won (newer revision) and months whose flows moved."""

    applied: int
    ignored: int
    changed_months: set[MonthKey]


_CLIENT_FACT: TypeAdapter[ClientFact] = TypeAdapter(ClientFact)


def _spell_rows(history: spells.History) -> list[tuple[Any, ...]]:
    """The history's rows as tuples in SPELL_COLUMNS order, after the entity."""
    entity = history.entity
    if isinstance(history, BenefitHistory):
        return [
            (
                entity,
                s.unit,
                s.municipality,
                s.regulation,
                s.start_date,
                s.end_date,
                month_of(s.start_date),
                month_of(s.end_date) if s.end_date else None,
                s.inflow_reason,
                s.outflow_reason,
                s.client_ref,
                s.role,
                s.birth_date,
                recorded_from,
                recorded_to,
            )
            for s, recorded_from, recorded_to in spells.benefit_rows(history)
        ]
    rows: Sequence[spells.Recorded[Any]]
    if isinstance(history, PlacementHistory):
        rows = spells.placement_rows(history)
    elif isinstance(history, ApplicationHistory):
        rows = spells.application_history_rows(history)
    else:
        rows = spells.trajectory_rows(history)
    return [(entity, *row, recorded_from, recorded_to) for row, recorded_from, recorded_to in rows]


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


async def _replace_histories(
    conn: AsyncConnection, histories: dict[str, spells.History]
) -> tuple[list[spells.History], list[MonthKey], dict[str, datetime]]:
    """Bring the rows of every entity whose fact is newer than the stored one in line with it,
    keeping the monthly aggregate in step; returns those facts, the months whose flows moved and
    per benefit the recorded moment from which its rows changed."""
    stored = dict(
        await dialect.select_where_in(conn, t.entities, "entity", list(histories), ("entity", "revision"))
    )
    winners = [h for e, h in histories.items() if h.revision > stored.get(e, -1)]
    deltas: dict[MonthKey, list[int]] = {}
    since: dict[str, datetime] = {}
    for kind, (table, columns) in SPELL_COLUMNS.items():
        of_kind = [h for h in winners if h.kind == kind]
        # Entities seen for the first time have no rows to compare with: bulk loads skip the select.
        replaced = [h.entity for h in of_kind if h.entity in stored]
        rows = [row for h in of_kind for row in _spell_rows(h)]
        names = ("entity", *columns)
        old = await dialect.select_where_in(conn, table, "entity", replaced, ("id", *names))
        changes = row_changes(old, rows)
        await dialect.delete_where_in(conn, table, "id", [i for i, _ in changes.deleted])
        await dialect.update_rows(
            conn, table, "id", ("recorded_to",), [(i, to) for i, to, _ in changes.closed]
        )
        await dialect.insert_rows(conn, table, names, changes.inserted)
        if kind == "benefit":
            since = changed_since(changes)
            _add_flows(deltas, changes)
            await dialect.insert_rows(conn, t.late_flows, LATE_FLOW_COLUMNS, _late_flow_rows(changes))
    await dialect.write_rows(
        conn,
        t.entities,
        ("entity", "kind", "revision"),
        [(h.entity, h.kind, h.revision) for h in winners],
        stored,
    )
    # Sorted: concurrent consumers lock the aggregate's rows in one order and cannot deadlock.
    changed = sorted((key, tuple(v)) for key, v in deltas.items() if v != [0, 0])
    await dialect.upsert_rows(
        conn,
        t.monthly,
        ("municipality", "regulation", "unit", "month", "inflow", "outflow"),
        [(*key, inflow, outflow) for key, (inflow, outflow) in changed],
        ("municipality", "regulation", "unit", "month"),
        {
            "inflow": f"{t.monthly.name}.inflow + excluded.inflow",
            "outflow": f"{t.monthly.name}.outflow + excluded.outflow",
        },
    )
    return winners, [key for key, _ in changed], since


def _record_row(record: ClientRecord) -> tuple[Any, ...]:
    fact = record.fact
    on_date = {
        "assessment": "assessed_on",
        "coach_assignment": "assigned_on",
        "progress_report": "recorded_on",
        "plan": "sent_on",
        "sanction": "imposed_on",
    }[fact.type]
    values = {
        "record_id": record.record_id,
        "client_ref": record.client_ref,
        "revision": record.revision,
        "type": fact.type,
        "on_date": getattr(fact, on_date),
        "recorded_at": record.recorded_at,
        "retracted_at": record.retracted_at,
        "ladder_step": getattr(fact, "ladder_step", None),
        "target_step": getattr(fact, "target_step", None),
        "client_stream": getattr(fact, "client_stream", None),
        "work_obligation_exempt": getattr(fact, "work_obligation_exempt", None),
        "coach_ref": getattr(fact, "coach_ref", None),
        "payload": _CLIENT_FACT.dump_json(fact).decode(),
    }
    return tuple(values[c] for c in RECORD_COLUMNS)


async def _replace_records(
    conn: AsyncConnection, records: dict[str, ClientRecord]
) -> tuple[list[ClientRecord], dict[str, datetime]]:
    """Store the records newer than the stored ones; returns them and per record the recorded
    moment from which it may read differently (the earlier of its stored and new recorded_at)."""
    found = await dialect.select_where_in(
        conn, t.client_records, "record_id", list(records), ("record_id", "revision", "recorded_at")
    )
    stored = {i: (revision, recorded_at) for i, revision, recorded_at in found}
    winners = [r for i, r in records.items() if r.revision > stored.get(i, (-1, None))[0]]
    await dialect.write_rows(
        conn, t.client_records, RECORD_COLUMNS, [_record_row(r) for r in winners], stored
    )
    since = {r.record_id: min(r.recorded_at, stored.get(r.record_id, (0, r.recorded_at))[1]) for r in winners}
    return winners, since


def _latest_recorded(fact: Fact) -> datetime:
    if isinstance(fact, ClientRecord):
        return max(filter(None, (fact.recorded_at, fact.retracted_at)))
    return max((v.recorded_from for v in fact.versions), default=datetime.min)


async def _touch_freshness(conn: AsyncConnection, winners: Sequence[Fact], now: datetime) -> None:
    rows = []
    for kind in READ_MODELS:
        of_kind = [f for f in winners if f.kind == kind]
        if of_kind:
            latest = max(_latest_recorded(f) for f in of_kind)
            rows.append((kind, now, latest, len(of_kind), latest))
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
    the one before are no longer served (service.answers)."""
    table = t.generation.name
    await dialect.upsert_rows(
        conn, t.generation, ("id", "generation"), [(1, 1)], ("id",), {"generation": f"{table}.generation + 1"}
    )


@cache
def default_organisations() -> OrganisationsConfig:
    return load_organisations()


async def apply_facts(
    conn: AsyncConnection,
    facts: Iterable[Fact],
    now: datetime,
    organisations: OrganisationsConfig | None = None,
) -> Applied:
    """Apply a batch inside the caller's transaction; redelivered or older facts change nothing.
    `organisations` (the versioned configuration when None) bounds where K5 and the revolving door
    look for a return."""
    histories: dict[str, spells.History] = {}
    records: dict[str, ClientRecord] = {}
    count = 0
    # Several revisions of one entity in a batch: only the last can win, so only it is written.
    for fact in facts:
        count += 1
        if isinstance(fact, ClientRecord):
            if fact.record_id not in records or fact.revision > records[fact.record_id].revision:
                records[fact.record_id] = fact
        elif fact.entity not in histories or fact.revision > histories[fact.entity].revision:
            histories[fact.entity] = fact
    winners, changed, since = await _replace_histories(conn, histories)
    record_winners, record_since = await _replace_records(conn, records)
    all_winners: list[Fact] = [*winners, *record_winners]
    await kpi_store.restate(conn, all_winners, organisations or default_organisations(), since, record_since)
    await _touch_freshness(conn, all_winners, now)
    await move_generation(conn)
    await dialect.upsert_rows(
        conn,
        t.changes,
        ("municipality", "regulation", "unit", "month", "changed_at"),
        [(*key, now) for key in changed],
        ("municipality", "regulation", "unit", "month"),
        {"changed_at": "excluded.changed_at"},
    )
    return Applied(len(all_winners), count - len(all_winners), set(changed))
