"""Materialises facts into the read models: one batch per transaction, highest revision wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_contract.facts import (
    ApplicationHistory,
    BenefitHistory,
    ClientRecord,
    Fact,
    PlacementHistory,
)
from stroom_reporting import tables as t
from stroom_reporting.domain import spells
from stroom_reporting.domain.months import month_of
from stroom_reporting.domain.mutations import flow_deltas

CHUNK = 500
SPELL_TABLES: dict[str, Table] = {
    "benefit": t.count_spells,
    "placement": t.placement_spells,
    "application": t.applications,
    "trajectory": t.phase_spells,
}
READ_MODELS = ("benefit", "placement", "application", "trajectory", "client")


@dataclass
class Applied:
    """What a batch changed: facts that won (newer revision) and months whose flows moved."""

    applied: int = 0
    ignored: int = 0
    changed_months: set[tuple[str, str, str, int]] = field(default_factory=set)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _upsert(conn: AsyncConnection, table: Table) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def _spell_values(entity: str, history: spells.History) -> list[dict[str, Any]]:
    rows: list[spells.Recorded[Any]]
    if isinstance(history, BenefitHistory):
        rows = spells.benefit_rows(history)
    elif isinstance(history, PlacementHistory):
        rows = spells.placement_rows(history)
    elif isinstance(history, ApplicationHistory):
        rows = spells.application_history_rows(history)
    else:
        rows = spells.trajectory_rows(history)
    values = []
    for recorded in rows:
        value = asdict(recorded.row)
        value.update(entity=entity, recorded_from=recorded.recorded_from, recorded_to=recorded.recorded_to)
        if isinstance(history, BenefitHistory):
            value.pop("ref")
            value["start_month"] = month_of(value["start_date"])
            value["end_month"] = month_of(value["end_date"]) if value["end_date"] else None
        values.append(value)
    return values


def _current_flows(values: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, int, int | None]]:
    return [
        (v["municipality"], v["regulation"], v["unit"], v["start_month"], v["end_month"])
        for v in values
        if v["recorded_to"] is None
    ]


async def _newer_histories(
    conn: AsyncConnection, histories: dict[str, spells.History]
) -> tuple[list[spells.History], set[str]]:
    """The facts newer than what is stored, and which of them replace stored rows."""
    stored: dict[str, int] = {}
    for chunk in _chunks(list(histories)):
        result = await conn.execute(
            select(t.entities.c.entity, t.entities.c.revision).where(t.entities.c.entity.in_(chunk))
        )
        stored.update({row.entity: row.revision for row in result})
    return [h for e, h in histories.items() if h.revision > stored.get(e, -1)], set(stored)


async def _replace_histories(
    conn: AsyncConnection, winners: list[spells.History], stored: set[str], result: Applied
) -> None:
    # Entities seen for the first time have no rows to take out: skipping them keeps bulk loads fast.
    replaced = [h for h in winners if h.entity in stored]
    old_flows: list[tuple[str, str, str, int, int | None]] = []
    benefit_entities = [h.entity for h in replaced if h.kind == "benefit"]
    for chunk in _chunks(benefit_entities):
        c = t.count_spells.c
        rows = await conn.execute(
            select(c.municipality, c.regulation, c.unit, c.start_month, c.end_month).where(
                c.entity.in_(chunk), c.recorded_to.is_(None)
            )
        )
        old_flows.extend((m, r, u, s, e) for m, r, u, s, e in rows)
    new_values: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SPELL_TABLES}
    for history in winners:
        new_values[history.kind].extend(_spell_values(history.entity, history))
    for kind, table in SPELL_TABLES.items():
        entities = [h.entity for h in replaced if h.kind == kind]
        for chunk in _chunks(entities):
            await conn.execute(delete(table).where(table.c.entity.in_(chunk)))
        if new_values[kind]:
            await conn.execute(insert(table), new_values[kind])
    for chunk in _chunks(replaced):
        await conn.execute(delete(t.entities).where(t.entities.c.entity.in_([h.entity for h in chunk])))
    if winners:
        await conn.execute(
            insert(t.entities),
            [{"entity": h.entity, "kind": h.kind, "revision": h.revision} for h in winners],
        )
    deltas: dict[tuple[str, str, str, int], tuple[int, int]] = dict(flow_deltas(old_flows, -1))
    for key, (inflow, outflow) in flow_deltas(_current_flows(new_values["benefit"]), 1).items():
        old_in, old_out = deltas.get(key, (0, 0))
        deltas[key] = (old_in + inflow, old_out + outflow)
    changed = {k: v for k, v in deltas.items() if v != (0, 0)}
    if changed:
        statement = _upsert(conn, t.monthly)
        statement = statement.on_conflict_do_update(
            index_elements=["municipality", "regulation", "unit", "month"],
            set_={
                "inflow": t.monthly.c.inflow + statement.excluded.inflow,
                "outflow": t.monthly.c.outflow + statement.excluded.outflow,
            },
        )
        await conn.execute(
            statement,
            [
                {"municipality": m, "regulation": r, "unit": u, "month": mo, "inflow": i, "outflow": o}
                for (m, r, u, mo), (i, o) in changed.items()
            ],
        )
    result.changed_months.update(changed)


def _record_values(record: ClientRecord) -> dict[str, Any]:
    fact = record.fact
    on_date = {
        "assessment": "assessed_on",
        "coach_assignment": "assigned_on",
        "progress_report": "recorded_on",
        "plan": "sent_on",
        "sanction": "imposed_on",
    }[fact.type]
    return {
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
        "payload": fact.model_dump_json(),
    }


async def _replace_records(conn: AsyncConnection, records: dict[str, ClientRecord]) -> list[ClientRecord]:
    stored: dict[str, int] = {}
    c = t.client_records.c
    for chunk in _chunks(list(records)):
        result = await conn.execute(select(c.record_id, c.revision).where(c.record_id.in_(chunk)))
        stored.update({row.record_id: row.revision for row in result})
    winners = [r for i, r in records.items() if r.revision > stored.get(i, -1)]
    for chunk in _chunks([r.record_id for r in winners if r.record_id in stored]):
        await conn.execute(delete(t.client_records).where(c.record_id.in_(chunk)))
    if winners:
        await conn.execute(insert(t.client_records), [_record_values(r) for r in winners])
    return winners


def _latest_recorded(fact: Fact) -> datetime:
    if isinstance(fact, ClientRecord):
        return max(filter(None, (fact.recorded_at, fact.retracted_at)))
    return max((v.recorded_from for v in fact.versions), default=datetime.min)


async def _touch_freshness(conn: AsyncConnection, winners: Sequence[Fact], now: datetime) -> None:
    for kind in READ_MODELS:
        of_kind = [f for f in winners if f.kind == kind]
        if not of_kind:
            continue
        latest = max(_latest_recorded(f) for f in of_kind)
        statement = _upsert(conn, t.freshness).values(
            read_model=kind, applied_at=now, latest_recorded=latest, facts_applied=len(of_kind)
        )
        f = t.freshness.c
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["read_model"],
                set_={
                    "applied_at": now,
                    "latest_recorded": statement.excluded.latest_recorded,
                    "facts_applied": f.facts_applied + len(of_kind),
                },
            )
        )


async def apply_facts(conn: AsyncConnection, facts: Iterable[Fact], now: datetime) -> Applied:
    """Apply a batch inside the caller's transaction; redelivered or older facts change nothing."""
    histories: dict[str, spells.History] = {}
    records: dict[str, ClientRecord] = {}
    count = 0
    for fact in facts:
        count += 1
        if isinstance(fact, ClientRecord):
            if fact.record_id not in records or fact.revision > records[fact.record_id].revision:
                records[fact.record_id] = fact
        elif fact.entity not in histories or fact.revision > histories[fact.entity].revision:
            histories[fact.entity] = fact
    result = Applied()
    winners, stored = await _newer_histories(conn, histories)
    await _replace_histories(conn, winners, stored, result)
    record_winners = await _replace_records(conn, records)
    all_winners: list[Fact] = [*winners, *record_winners]
    await _touch_freshness(conn, all_winners, now)
    if result.changed_months:
        await conn.execute(
            insert(t.changes),
            [
                {"changed_at": now, "municipality": m, "regulation": r, "unit": u, "month": mo}
                for m, r, u, mo in sorted(result.changed_months)
            ],
        )
    result.applied = len(all_winners)
    result.ignored = count - result.applied
    return result
