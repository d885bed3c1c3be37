"""How an entity's stored rows follow its facts' changes (`stroom_contract.rows`): which changes
apply in what order, and what they do to the rows stored."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stroom_contract.facts import EntityChange


@dataclass
class RowChanges:
    """How an entity kind's stored rows become those of the winning facts: rows that stay as they
    are (most of them, each fact repeats the history before it) are left alone."""

    inserted: list[tuple[Any, ...]]
    # (id, new recorded_to, the stored row): a version superseded since, or superseded no more.
    closed: list[tuple[int, datetime | None, tuple[Any, ...]]]
    deleted: list[tuple[int, tuple[Any, ...]]]


def changed_since(changes: RowChanges) -> dict[str, datetime]:
    """Per entity, the earliest recorded moment from which its rows differ: a row put in or taken
    out from its recorded_from, a row closed otherwise from the earlier of its old and new ends."""
    since: dict[str, datetime] = {}

    def at(entity: str, moment: datetime) -> None:
        since[entity] = min(moment, since.get(entity, moment))

    for row in changes.inserted:
        at(row[0], row[-2])
    for _, row in changes.deleted:
        at(row[0], row[-2])
    for _, to, row in changes.closed:
        at(row[0], min(m for m in (to, row[-1]) if m is not None))
    return since


def row_changes(stored: Iterable[Sequence[Any]], rows: Iterable[tuple[Any, ...]]) -> RowChanges:
    """Stored rows are (id, entity, *columns, recorded_to) and new ones (entity, *columns,
    recorded_to); a row is the same one when all but recorded_to are equal."""
    # Most stored rows stay as they are: only those that change are made into a row of their own.
    by_key = {tuple(row[1:-1]): row for row in stored}
    changes = RowChanges([], [], [])
    for row in rows:
        found = by_key.pop(row[:-1], None)
        if found is None:
            changes.inserted.append(row)
        elif found[-1] != row[-1]:
            changes.closed.append((found[0], row[-1], tuple(found[1:])))
    changes.deleted.extend((row[0], tuple(row[1:])) for row in by_key.values())
    return changes


@dataclass(frozen=True, slots=True)
class Chain:
    """An entity's changes to apply, in order, and those to keep until their base arrives."""

    apply: list[EntityChange]
    park: list[EntityChange]


def chain(stored: int | None, changes: Iterable[EntityChange]) -> Chain:
    """Which of an entity's changes (new and parked) apply on top of revision `stored` of its rows
    (None: it has none). One at or below the revision reached is a redelivery; a full change
    applies on top of any lower revision and supersedes the changes up to its own; an incremental
    one applies on top of its base only."""
    reached = -1 if stored is None else stored
    pool: dict[int, EntityChange] = {}
    for change in changes:
        if change.revision <= reached:
            continue
        held = pool.get(change.revision)
        # A full change and an incremental one of one revision hold the same rows.
        if held is None or (held.base is not None and change.base is None):
            pool[change.revision] = change
    applied: list[EntityChange] = []
    while pool:
        # The highest full change, else the one on top of the revision reached.
        step: EntityChange | None = None
        for change in pool.values():
            if change.base is None and (step is None or change.revision > step.revision):
                step = change
        if step is None:
            step = next((c for c in pool.values() if c.base == reached), None)
            if step is None:
                break
        applied.append(step)
        reached = step.revision
        pool = {revision: c for revision, c in pool.items() if revision > reached}
    return Chain(applied, sorted(pool.values(), key=_revision))


def _revision(change: EntityChange) -> int:
    return change.revision


def rows_after(
    stored: Iterable[Sequence[Any]],
    changes: Iterable[tuple[bool, Sequence[tuple[Any, ...]], Sequence[tuple[Any, ...]]]],
) -> list[tuple[Any, ...]]:
    """An entity's stored rows (id, entity, *columns, recorded_to) after `changes` in order, each
    (full, put, removed) with rows as (entity, *columns, recorded_to): a full change's rows replace
    all; otherwise the rows removed go, and those put in replace the same row version (equal but
    for recorded_to) or join."""
    rows = {tuple(row[1:-1]): tuple(row[1:]) for row in stored}
    for full, put, removed in changes:
        if full:
            rows.clear()
        for row in removed:
            rows.pop(row[:-1], None)
        for row in put:
            rows[row[:-1]] = row
    return list(rows.values())
