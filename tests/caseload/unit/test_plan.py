"""The apply planner: any order, duplication and batching of a history plans the same ledger."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_caseload.domain.events import Event, effective
from stroom_caseload.domain.plan import (
    Effects,
    Incoming,
    Ledger,
    LedgerRow,
    client_records,
    plan_effects,
    plan_ledger,
    published_clients,
)
from stroom_contract.events import RETRACTED
from stroom_contract.keys import key_kind
from stroom_contract.retractions import Ident, Retraction, Retractions, chain_keys, retraction_key

SOURCE = "urn:x"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BENEFIT = "stroom.benefit.started.v1"
COACH = "stroom.client.coach_assigned.v1"
ENTITIES = [f"benefit:{SOURCE}:B{n}" for n in range(3)]
PERSONS = ["p1", "p2"]


def event(event_id: str, minutes: int, key: str) -> Incoming:
    if key.startswith("client:"):
        data = {"client": {"client_ref": key[7:]}, "coach_ref": "K1", "assigned_on": "2024-01-01"}
        kind = COACH
    else:
        data = {"benefit_ref": key.rsplit(":", 1)[1]}
        kind = BENEFIT
    moment = T0 + timedelta(minutes=minutes)
    return Incoming((SOURCE, event_id), kind, moment, data, "{}", key, None)


def retraction(event_id: str, minutes: int, aimed: str) -> Incoming:
    data = {"retracted_id": aimed, "reason": "x"}
    return Incoming((SOURCE, event_id), RETRACTED, T0 + timedelta(minutes=minutes), data, "{}", None, aimed)


@st.composite
def histories(draw: st.DrawFn) -> list[Incoming]:
    """Events of a few entities and persons, and retractions of them, of retractions (before or
    after what they retract in time), and of events never received; no circles."""
    count = draw(st.integers(1, 8))
    keys = ENTITIES + [f"client:{p}" for p in PERSONS]
    found = [event(f"e{n}", draw(st.integers(0, 50)), draw(st.sampled_from(keys))) for n in range(count)]
    for n in range(draw(st.integers(0, 8))):
        # Only earlier ids (or one never sent): a chain never comes back on itself.
        aimed = draw(st.sampled_from([i.ident[1] for i in found] + ["missing"]))
        found.append(retraction(f"r{n}", draw(st.integers(0, 50)), aimed))
    return found


def delivered(history: list[Incoming], seed: int) -> list[Incoming]:
    """Shuffled, with some events given twice."""
    rng = random.Random(seed)
    given_ = history + rng.sample(history, rng.randint(0, len(history)))
    rng.shuffle(given_)
    return given_


def true_keys(history: list[Incoming]) -> dict[Ident, str]:
    """Every event's key with the whole history known."""
    keys = {i.ident: i.key for i in history if i.key is not None}
    return keys | chain_keys({i.ident: i.retracted_id for i in history if i.retracted_id is not None}, keys)


@settings(max_examples=300)
@given(history=histories(), seed=st.integers(0, 10_000))
def test_a_batch_plans_the_same_ledger_in_any_order_and_with_any_duplicates(
    history: list[Incoming], seed: int
) -> None:
    once = plan_ledger(history)
    again = plan_ledger(delivered(history, seed))
    assert once.events == again.events
    assert [i.ident for i in once.events] == sorted(i.ident for i in history)
    assert once.marks == again.marks
    assert once.keys({}) == again.keys({}) == true_keys(history)
    earliest: dict[Ident, tuple[datetime, str]] = {}
    for i in history:
        if i.retracted_id is not None:
            target = (SOURCE, i.retracted_id)
            earliest[target] = min(earliest.get(target, (i.time, i.ident[1])), (i.time, i.ident[1]))
    assert {(s, e): (at, by) for s, e, at, by in once.marks} == earliest


New = dict[Ident, tuple[datetime | None, int]]


@dataclass
class Row:
    key: str | None
    type: str | None
    stored: bool
    retracted_at: datetime | None = None
    revision: int = 1


class Store:
    """The ledger's rules as the repository's statements carry them out, in memory."""

    def __init__(self) -> None:
        self.rows: dict[Ident, Row] = {}
        self.events: dict[Ident, Event] = {}

    def apply(self, batch: list[Incoming]) -> tuple[Ledger, list[LedgerRow], New, Effects]:
        ledger = plan_ledger(batch)
        known = {}
        marked_points = []
        for source, event_id, at, _ in ledger.marks:
            row = self.rows.get((source, event_id))
            if row is None:
                self.rows[(source, event_id)] = Row(None, None, False, at)
                continue
            row.retracted_at = at if row.retracted_at is None else min(row.retracted_at, at)
            row.revision += 1
            if row.key is not None:
                known[(source, event_id)] = row.key
            if row.type == COACH:
                marked_points.append((source, event_id))
        rows = ledger.rows(known)
        given_ = {i.ident: i.event for i in ledger.events}
        new = {}
        for ledger_row in rows:
            ident = (ledger_row.source, ledger_row.event_id)
            held = self.rows.get(ident)
            if held is None:
                self.rows[ident] = Row(ledger_row.entity_key, ledger_row.type, True)
            elif not held.stored:
                self.rows[ident] = Row(
                    ledger_row.entity_key, ledger_row.type, True, held.retracted_at, held.revision + 1
                )
            else:
                continue
            self.events[ident] = given_[ident]
            new[ident] = (self.rows[ident].retracted_at, self.rows[ident].revision)
        effects = plan_effects(ledger, rows, new, marked_points)
        for held in self.rows.values():
            if held.key in effects.rekeys:
                held.key = effects.rekeys[held.key]
        return ledger, rows, new, effects

    def counting(self) -> dict[str, dict[Ident, object]]:
        """Per entity or person, when each of its events counts, as a fold reads them."""
        by_key: dict[str, list[Event]] = defaultdict(list)
        for ident, row in self.rows.items():
            if row.stored and row.key is not None:
                by_key[row.key].append(self.events[ident])
        return {
            key: {(s.event.source, s.event.id): s.periods for s in effective(events)}
            for key, events in by_key.items()
        }


def test_an_entity_redelivered_beside_new_events_is_folded_again_and_its_full_change_sent() -> None:
    # The redelivered event's change may have been stored and never published: the next change's
    # base would never arrive.
    store = Store()
    first = event("e1", 1, ENTITIES[0])
    store.apply([first, event("e2", 2, ENTITIES[1])])
    *_, effects = store.apply([first, event("e3", 3, ENTITIES[0]), event("e4", 4, ENTITIES[2])])
    assert effects.recompute == (ENTITIES[0], ENTITIES[2])
    assert effects.republish == (ENTITIES[0],)


@settings(max_examples=300)
@given(history=histories(), seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 30), max_size=4))
def test_any_batching_keys_every_stored_event_as_the_whole_history_does(
    history: list[Incoming], seed: int, cuts: list[int]
) -> None:
    """Retractions that came before what they retract wait under its retraction key and move to
    its entity once it arrives, along chains of any length."""
    given_ = delivered(history, seed)
    bounds = sorted({0, len(given_), *(c % (len(given_) + 1) for c in cuts)})
    store = Store()
    for start, end in itertools.pairwise(bounds):
        store.apply(given_[start:end])
    stored = {ident: row.key for ident, row in store.rows.items() if row.stored}
    assert stored == true_keys(history)
    for i in history:
        if i.retracted_id is not None:
            target = store.rows[(SOURCE, i.retracted_id)]
            assert target.retracted_at is not None
            assert target.retracted_at <= i.time


@settings(max_examples=300)
@given(history=histories(), seed=st.integers(0, 10_000))
def test_a_new_batch_recomputes_what_it_changes_and_a_redelivered_one_only_republishes(
    history: list[Incoming], seed: int
) -> None:
    store = Store()
    given_ = delivered(history, seed)
    ledger, _, _, effects = store.apply(given_)
    keys = true_keys(history)
    ends = {keys[i.ident] for i in history if i.retracted_id is not None}
    entities = {i.key for i in history if i.key in ENTITIES}
    assert set(effects.recompute) == entities | (ends & set(ENTITIES))
    assert effects.persons == {k for k in ends if key_kind(k) == "client"}
    assert effects.republish == ()
    assert effects.new_by_type == Counter(i.type for i in ledger.events)
    assert effects.duplicates == len(given_) - len(ledger.events)
    assert effects.links == {i.ident for i in history if i.retracted_id is not None}
    points = {i.ident for i in history if i.type == COACH}
    assert {(p[0].split("|")[0], p[0].split("|")[1]) for p in effects.point_facts} == points
    # A person's record nothing retracts is at hand; a retracted one is read back.
    retracted = {(SOURCE, i.retracted_id) for i in history if i.retracted_id is not None}
    assert {(r.source, r.event_id) for r in effects.fresh} == points - retracted
    assert effects.clients == points & retracted

    ledger, _, new, again = store.apply(delivered(history, seed + 1))
    assert new == {}
    assert again.recompute == ()
    assert set(again.republish) == entities
    assert again.duplicates == ledger.given
    # Marking a stored point fact again counts its revision up: its record is published anew.
    assert again.clients == points
    assert again.point_facts == ()
    assert again.fresh == ()
    assert not again.persons
    assert not again.links
    assert not again.rekeys


@settings(max_examples=300)
@given(history=histories(), seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 30), max_size=4))
def test_every_batch_folds_again_or_publishes_anew_whatever_it_changed(
    history: list[Incoming], seed: int, cuts: list[int]
) -> None:
    """An entity whose events count differently after a batch is recomputed; a person's point
    fact that does is published anew, at hand or read back."""
    given_ = delivered(history, seed)
    bounds = sorted({0, len(given_), *(c % (len(given_) + 1) for c in cuts)})
    store = Store()
    for start, end in itertools.pairwise(bounds):
        before = store.counting()
        *_, effects = store.apply(given_[start:end])
        after = store.counting()
        republished = {(r.source, r.event_id) for r in effects.fresh} | effects.clients
        for key in before.keys() | after.keys():
            was, now = before.get(key, {}), after.get(key, {})
            if key in ENTITIES and was != now:
                assert key in effects.recompute
            elif key_kind(key) == "client" and key not in effects.persons:
                assert {i for i in was.keys() | now.keys() if was.get(i) != now.get(i)} <= republished


def test_a_retraction_waits_under_the_retraction_key_of_what_it_retracts() -> None:
    store = Store()
    store.apply([retraction("r2", 3, "r1")])
    assert store.rows[(SOURCE, "r2")].key == retraction_key(SOURCE, "r1")
    store.apply([retraction("r1", 2, "e1")])
    assert store.rows[(SOURCE, "r2")].key == store.rows[(SOURCE, "r1")].key == retraction_key(SOURCE, "e1")
    _, _, new, _ = store.apply([event("e1", 1, ENTITIES[0])])
    assert new == {(SOURCE, "e1"): (T0 + timedelta(minutes=2), 2)}
    assert {row.key for row in store.rows.values()} == {ENTITIES[0]}


def test_a_retracted_retraction_restores_a_persons_record_and_counts_its_revision_up() -> None:
    point = event("e1", 1, "client:p1").event
    first = Retraction(SOURCE, "r1", T0 + timedelta(minutes=2), "e1")
    second = Retraction(SOURCE, "r2", T0 + timedelta(minutes=3), "r1")
    [gone], bumped = published_clients([(point, 2)], Retractions([first]), {first.ident})
    # Marking the row counted its revision up already: the direct retraction bumps nothing more.
    assert (gone.retracted_at, gone.revision, bumped) == (first.time, 2, [])
    [back], bumped = published_clients([(point, 2)], Retractions([first, second]), {second.ident})
    assert (back.retracted_at, back.revision, bumped) == (None, 3, [(SOURCE, "e1")])
    [record] = client_records([gone, back])
    assert b'"revision":3' in record.value
    assert b'"retracted_at":null' in record.value


def _changed(incoming: Incoming, change: str) -> Incoming:
    """`incoming` with another type, another value in its data, or one more field in its data."""
    if change == "type":
        return incoming._replace(type=COACH if incoming.type != COACH else BENEFIT)
    if change == "value":
        return incoming._replace(data={**incoming.data, "reason": "other", "benefit_ref": "other"})
    return incoming._replace(data={**incoming.data, "extra": 1})


@given(
    history=histories(),
    seed=st.integers(0, 10_000),
    change=st.sampled_from(["type", "value", "field"]),
    stored_first=st.booleans(),
)
def test_an_identical_redelivery_is_a_duplicate_and_any_other_content_under_its_id_a_conflict(
    history: list[Incoming], seed: int, change: str, stored_first: bool
) -> None:
    rng = random.Random(seed)
    original = rng.choice(history)
    reuser = _changed(original, change)
    # The same content with its keys in another order is the same event.
    reordered = original._replace(data=dict(reversed(list(original.data.items()))))
    redelivered = [*history, reordered, *rng.sample(history, k=len(history) // 2)]
    rng.shuffle(redelivered)
    plain = plan_ledger(history)
    assert plan_ledger(redelivered).events == plain.events
    assert plan_ledger(redelivered).conflicts == ()
    assert plan_ledger(redelivered).given == len(redelivered)

    if stored_first:
        # The store holds the original: the reuser conflicts wherever it comes in the batch.
        stored = {original.ident: original.content}
        batch = [*redelivered]
        batch.insert(rng.randrange(len(batch) + 1), reuser)
        ledger = plan_ledger(batch, stored)
        assert [batch[i] for i in ledger.conflicts] == [reuser]
    else:
        # Both in one batch: the one given first stands, every later copy of the other conflicts.
        batch = [original, reuser, *redelivered, reuser]
        ledger = plan_ledger(batch)
        assert [batch[i] for i in ledger.conflicts] == [reuser, reuser]
    assert ledger.events == plain.events
    assert ledger.given == len(batch) - len(ledger.conflicts)


def test_a_conflicting_retraction_marks_nothing() -> None:
    stored = event("e1", 0, ENTITIES[0])
    target = event("e2", 1, ENTITIES[1])
    reuser = retraction("e1", 2, "e2")
    ledger = plan_ledger([target, reuser], {stored.ident: stored.content})
    assert ledger.conflicts == (1,)
    assert ledger.marks == ()
    assert ledger.events == (target,)
