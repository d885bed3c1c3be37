"""caseload: ledger rows keyed as the contract keys them now, their entities folded again

Rows stored before entity keys became collision-free (a `:` or `%` in a ref was not escaped, a
key over 300 characters was cut) and before a retraction was keyed by the end of its chain (a
retraction of a retraction that arrived first waited under a retraction key for good) get the
key `stroom_contract` gives them now; every entity whose events moved, under its old and its new
key, is folded again from the ledger. The facts of the entities folded again are published when
an event of theirs next arrives, or by `stroom caseload rebuild`.

Revision ID: rekey01
Revises: audit01
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from pydantic import ValidationError

from stroom_caseload.domain.events import Event, effective
from stroom_caseload.domain.fold import history
from stroom_contract.keys import kind_of_key
from stroom_caseload.domain.publication import entity_fact
from stroom_caseload.repository import state_rows
from stroom_caseload.tables import live
from stroom_contract.events import EVENT_TYPES
from stroom_contract.keys import entity_key, key_kind
from stroom_contract.events import RETRACTED
from stroom_contract.retractions import chain_keys

revision = "rekey01"
down_revision = "audit01"
branch_labels = None
depends_on = None

_ENTITY_KINDS = {"benefit", "placement", "application", "trajectory"}


def upgrade() -> None:
    conn = op.get_bind()
    ev = live.events
    stored: dict[tuple[str, str], str] = {}
    keys: dict[tuple[str, str], str] = {}
    retracted: dict[tuple[str, str], str] = {}
    rows = conn.execute(
        sa.select(ev.c.source, ev.c.event_id, ev.c.entity_key, ev.c.type, ev.c.wire)
        .where(ev.c.wire.is_not(None))
        # Streamed: only the keys are kept, not every event's JSON at once.
        .execution_options(yield_per=5000)
    )
    for source, event_id, key, event_type, wire in rows:
        ident = (source, event_id)
        stored[ident] = key
        data = orjson.loads(wire)
        if event_type == RETRACTED:
            retracted[ident] = data["data"]["retracted_id"]
            continue
        keys[ident] = _key(event_type, data) or key
    keys |= chain_keys(retracted, keys)
    moved = [{"s": s, "i": i, "k": key} for (s, i), key in keys.items() if stored[(s, i)] != key]
    if not moved:
        return
    conn.execute(
        ev.update()
        .where(ev.c.source == sa.bindparam("s"), ev.c.event_id == sa.bindparam("i"))
        .values(entity_key=sa.bindparam("k")),
        moved,
    )
    came_from: dict[str, set[str]] = defaultdict(set)
    for m in moved:
        came_from[m["k"]].add(stored[(m["s"], m["i"])])
    touched = set(came_from).union(*came_from.values())
    _fold_again(conn, sorted(k for k in touched if k and key_kind(k) in _ENTITY_KINDS), came_from)
    _clients_again(conn, sorted(k for k in touched if k and key_kind(k) == "client"))


def _key(event_type: str, wire: dict[str, Any]) -> str | None:
    model = EVENT_TYPES.get(event_type)
    try:
        return None if model is None else entity_key(model.model_validate(wire))
    except ValidationError:
        return None  # stored before the contract refused what it holds: left as it is


def _ledger(conn: Any, keys: list[str]) -> dict[str, list[Event]]:
    ev = live.events
    found: dict[str, list[Event]] = defaultdict(list)
    for start in range(0, len(keys), 500):
        rows = conn.execute(
            sa.select(ev.c.entity_key, ev.c.wire).where(
                ev.c.entity_key.in_(keys[start : start + 500]), ev.c.wire.is_not(None)
            )
        )
        for key, wire in rows:
            found[key].append(Event.from_wire(orjson.loads(wire)))
    return found


def _fold_again(conn: Any, keys: list[str], came_from: dict[str, set[str]]) -> None:
    """Each entity's state rows and fact from its events, its revision above those of the keys
    its events had; one that has no events left goes."""
    if not keys:
        return
    en = live.entities
    query = sa.select(en.c.entity_key, en.c.revision).where(en.c.entity_key.in_(keys))
    revisions = dict(conn.execute(query).all())
    for table in (*live.states, en):
        conn.execute(table.delete().where(table.c.entity_key.in_(keys)))
    inserts: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
    for key, events in _ledger(conn, keys).items():
        kind = kind_of_key(key)
        versions = history(kind, effective(events))
        for table, row in state_rows(live, key, versions).rows:
            inserts[table].append(row)
        revision = max(revisions.get(k, 0) for k in {key} | came_from.get(key, set())) + 1
        fact = entity_fact(kind, key, revision, versions).decode()
        inserts[en].append({"entity_key": key, "kind": kind, "revision": revision, "fact": fact})
    for table, table_rows in inserts.items():
        conn.execute(table.insert(), table_rows)


def _clients_again(conn: Any, keys: list[str]) -> None:
    """A person's point facts' retraction times, now that all their retractions are theirs."""
    if not keys:
        return
    cf = live.client_facts
    values = []
    for events in _ledger(conn, keys).values():
        for point in effective(events):
            values.append({"rid": f"{point.event.source}|{point.event.id}", "at": point.retracted_at})
    if values:
        conn.execute(
            cf.update().where(cf.c.record_id == sa.bindparam("rid")).values(retracted_at=sa.bindparam("at")),
            values,
        )


def downgrade() -> None:
    """The old keys are not kept: they could not tell some entities apart."""
