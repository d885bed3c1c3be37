"""Which events count under retractions of retractions, at any depth, in any order, duplicated."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_contract.retractions import (
    Retraction,
    Retractions,
    chain_keys,
    counting_at,
    retraction_key,
)

BASE = datetime(2024, 1, 1, tzinfo=UTC)
SOURCE = "gws"


def at(hours: int) -> datetime:
    return BASE + timedelta(hours=hours)


# A history: events e0..e{n-1} recorded at some hour; each retraction r{k} retracts an event or an
# earlier retraction (so chains of any depth, no circles), or an id never received.
History = tuple[dict[str, datetime], list[Retraction]]


@st.composite
def histories(draw: st.DrawFn) -> History:
    events = {f"e{i}": at(draw(st.integers(0, 6))) for i in range(draw(st.integers(1, 3)))}
    retractions: list[Retraction] = []
    for k in range(draw(st.integers(0, 8))):
        targets = [*events, *(r.id for r in retractions), "missing"]
        target = draw(st.sampled_from(targets))
        retractions.append(Retraction(SOURCE, f"r{k}", at(draw(st.integers(0, 8))), target))
    return events, retractions


def reference_counts(
    events: dict[str, datetime], retractions: list[Retraction], moment: datetime
) -> set[str]:
    """By rounds, as the contract reads: everything recorded by `moment` counts at first; then
    each round an event counts iff no retraction that counted in the round before retracts it.
    Without circles, the rounds settle within as many rounds as there are events."""
    recorded = {e for e, t in events.items() if t <= moment} | {r.id for r in retractions if r.time <= moment}
    aims = {r.id: r.retracted_id for r in retractions if r.id in recorded}
    counting = set(recorded)
    for _ in range(len(recorded) + 1):
        gone = {aims[r] for r in counting if r in aims}
        counting = recorded - gone
    return counting


def shuffled(retractions: list[Retraction], seed: int) -> list[Retraction]:
    rng = random.Random(seed)
    copies = (
        retractions + [rng.choice(retractions) for _ in range(len(retractions) // 2)] if retractions else []
    )
    rng.shuffle(copies)
    return copies


@settings(max_examples=600)
@given(histories(), st.integers(0, 2**32))
def test_an_event_counts_iff_no_counting_retraction_retracts_it_at_every_moment(
    history: History, seed: int
) -> None:
    events, retractions = history
    index = Retractions(shuffled(retractions, seed))
    for hour in range(-1, 10):
        moment = at(hour)
        expected = reference_counts(events, retractions, moment)
        for event_id, time in events.items():
            periods = index.periods((SOURCE, event_id), time)
            assert counting_at(periods, moment) == (event_id in expected), (event_id, hour)
        for retraction in retractions:
            if retraction.time <= moment:
                assert index.counts(retraction.ident, moment) == (retraction.id in expected)
    final = reference_counts(events, retractions, at(100))
    for event_id in events:
        assert index.counts((SOURCE, event_id)) == (event_id in final)


@settings(max_examples=300)
@given(histories(), st.integers(0, 2**32))
def test_periods_do_not_depend_on_the_order_retractions_are_known_in(history: History, seed: int) -> None:
    events, retractions = history
    ordered, other = Retractions(retractions), Retractions(shuffled(retractions, seed))
    for event_id, time in events.items():
        assert ordered.periods((SOURCE, event_id), time) == other.periods((SOURCE, event_id), time)
        assert sorted(r.id for r in ordered.tree((SOURCE, event_id))) == sorted(
            r.id for r in other.tree((SOURCE, event_id))
        )


def test_a_retracted_retraction_restores_its_event_from_then_on() -> None:
    first = Retraction(SOURCE, "r1", at(2), "e")
    second = Retraction(SOURCE, "r2", at(5), "r1")
    index = Retractions([second, first])
    assert index.periods((SOURCE, "e"), at(1)) == ((at(1), at(2)), (at(5), None))
    assert index.counts((SOURCE, "e"))
    third = Retraction(SOURCE, "r3", at(7), "r2")
    index.add(third)
    assert index.periods((SOURCE, "e"), at(1)) == ((at(1), at(2)), (at(5), at(7)))
    assert not index.counts((SOURCE, "e"))


def test_retractions_retracting_each_other_leave_every_other_event_alone() -> None:
    index = Retractions(
        [
            Retraction(SOURCE, "a", at(1), "b"),
            Retraction(SOURCE, "b", at(1), "a"),
            Retraction(SOURCE, "c", at(1), "a"),
            Retraction(SOURCE, "r", at(2), "e"),
        ]
    )
    assert not index.counts((SOURCE, "a"))
    assert not index.counts((SOURCE, "b"))
    assert index.periods((SOURCE, "e"), at(0)) == ((at(0), at(2)),)
    assert index.periods((SOURCE, "x"), at(0)) == ((at(0), None),)


def test_a_very_deep_chain_is_decided_without_recursion() -> None:
    chain = [Retraction(SOURCE, "r0", at(1), "e")]
    chain += [Retraction(SOURCE, f"r{i}", at(1), f"r{i - 1}") for i in range(1, 5001)]
    index = Retractions(reversed(chain))
    # 5,001 retractions: the last one counts, so every other one up the chain, and e does not.
    assert not index.counts((SOURCE, "e"))
    assert index.counts((SOURCE, "r5000"))
    assert not index.counts((SOURCE, "r4999"))


@settings(max_examples=400)
@given(histories(), st.integers(0, 2**32))
def test_a_chain_is_keyed_by_the_event_it_ends_at_however_its_links_are_split(
    history: History, seed: int
) -> None:
    """As intake and caseload key a batch: some links stored (their keys resolved then), the rest
    in the batch; every retraction's key is that of the event at the end of its chain, or the
    retraction key of the id that has not arrived."""
    events, retractions = history
    rng = random.Random(seed)
    aims = {r.id: r.retracted_id for r in retractions}

    def end(event_id: str) -> str:
        while event_id in aims:
            event_id = aims[event_id]
        return event_id

    def key(event_id: str) -> str:
        last = end(event_id)
        return f"benefit:{last}" if last in events else retraction_key(SOURCE, last)

    stored = {r.id for r in retractions if rng.random() < 0.4}
    known = {(SOURCE, e): f"benefit:{e}" for e in events} | {(SOURCE, r): key(r) for r in stored}
    batch = {(SOURCE, r.id): r.retracted_id for r in retractions if r.id not in stored}
    assert chain_keys(batch, known) == {(SOURCE, r): key(r) for _, r in batch}


def test_a_circle_in_a_batch_gets_one_key_whichever_link_is_asked_first() -> None:
    batch = {(SOURCE, "b"): "a", (SOURCE, "a"): "b", (SOURCE, "c"): "b"}
    keys = chain_keys(batch, {})
    assert set(keys.values()) == {retraction_key(SOURCE, "a")}


def test_ten_thousand_retractions_of_one_event_are_decided_in_one_pass() -> None:
    index = Retractions(Retraction(SOURCE, f"r{i}", at(1) + timedelta(seconds=i), "e") for i in range(10_000))
    index.add(Retraction(SOURCE, "undo", at(60), "r0"))
    # Every other retraction still counts: e counts only before the first of them.
    assert index.periods((SOURCE, "e"), at(0)) == ((at(0), at(1)),)


@given(histories())
def test_the_targets_are_the_events_retracted_however_often_others_are_asked(history: History) -> None:
    events, retractions = history
    known = Retractions(retractions)
    for ident in [*((SOURCE, event) for event in events), (SOURCE, "missing"), ("elders", "e0")]:
        known.of(ident)
    assert set(known.targets) == {r.target for r in retractions}
