"""Which of an entity's facts changes apply in what order (`domain.spells.chain`), and what they
do to its stored rows (`rows_after`): redelivered, reordered and lost changes end in the rows of
the newest revision."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_contract.facts import PlacementChange
from stroom_contract.rows import PlacementSpell, Recorded, row_change
from stroom_reporting.domain.spells import chain, rows_after

ENTITY = "placement:src:p1"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def spell(day: int) -> PlacementSpell:
    return PlacementSpell(
        "c1", "GM0405", "sheltered_work", date(2024, 1, 1) + timedelta(days=day), None, None
    )


def rows_of(revision: int) -> list[Recorded[Any]]:
    """The entity's rows at `revision`: one version per revision, each closed by the next."""
    return [
        Recorded(spell(k), T0 + timedelta(hours=k), T0 + timedelta(hours=k + 1) if k < revision else None)
        for k in range(1, revision + 1)
    ]


def change(revision: int, full: bool = False) -> PlacementChange:
    """What caseload publishes for `revision`: every row, or those changed since the one before."""
    if full or revision == 1:
        return PlacementChange(entity=ENTITY, revision=revision, rows=rows_of(revision))
    put, removed = row_change(rows_of(revision - 1), rows_of(revision))
    return PlacementChange(entity=ENTITY, revision=revision, base=revision - 1, rows=put, removed=removed)


def revisions(changes: list[PlacementChange]) -> list[tuple[int, int | None]]:
    return [(c.revision, c.base) for c in changes]


def test_a_change_at_or_below_the_revision_held_is_a_redelivery() -> None:
    found = chain(3, [change(2), change(3), change(1, full=True), change(3, full=True)])
    assert found.apply == []
    assert found.park == []


def test_a_change_on_the_revision_held_applies_and_so_do_those_waiting_on_it() -> None:
    found = chain(2, [change(5), change(3), change(4)])
    assert revisions(found.apply) == [(3, 2), (4, 3), (5, 4)]
    assert found.park == []


def test_a_change_whose_base_has_not_come_waits() -> None:
    found = chain(2, [change(4), change(5)])
    assert found.apply == []
    assert revisions(found.park) == [(4, 3), (5, 4)]
    # Nothing held yet: only a full change can start.
    assert revisions(chain(None, [change(2)]).park) == [(2, 1)]


def test_a_full_change_applies_on_any_lower_revision_and_supersedes_what_it_covers() -> None:
    found = chain(1, [change(3), change(6), change(4, full=True), change(5)])
    assert revisions(found.apply) == [(4, None), (5, 4), (6, 5)]
    assert found.park == []
    # Of one revision sent twice, incrementally and in full (a redelivered event), the full one.
    assert revisions(chain(None, [change(2), change(2, full=True)]).apply) == [(2, None)]


def stored_form(rows: list[Recorded[Any]]) -> list[tuple[Any, ...]]:
    return [(ENTITY, *r.row, r.recorded_from, r.recorded_to) for r in rows]


def apply(stored: list[tuple[Any, ...]], changes: list[PlacementChange]) -> list[tuple[Any, ...]]:
    with_ids = [(i, *row) for i, row in enumerate(stored)]
    return rows_after(
        with_ids, ((c.base is None, stored_form(c.rows), stored_form(c.removed)) for c in changes)
    )


@settings(max_examples=200)
@given(st.integers(2, 12), st.integers(0, 2**32))
def test_shuffled_duplicated_changes_in_any_batches_end_in_the_newest_rows(last: int, seed: int) -> None:
    rng = random.Random(seed)
    sent = [change(r) for r in range(1, last + 1)]
    # Redeliveries, and now and then the full change a redelivered event sends again.
    sent += [rng.choice(sent) for _ in range(rng.randrange(4))]
    sent += [change(rng.randrange(1, last + 1), full=True) for _ in range(rng.randrange(2))]
    rng.shuffle(sent)
    held: int | None = None
    rows: list[tuple[Any, ...]] = []
    parked: list[PlacementChange] = []
    while sent:
        size = rng.randrange(1, 4)
        batch, sent = sent[:size], sent[size:]
        found = chain(held, [*parked, *batch])
        rows = apply(rows, found.apply)
        held = found.apply[-1].revision if found.apply else held
        parked = found.park
    assert held == last
    assert parked == []
    assert sorted(rows, key=repr) == sorted(stored_form(rows_of(last)), key=repr)
