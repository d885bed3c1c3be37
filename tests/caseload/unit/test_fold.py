"""The pure fold: any order and any duplication of an entity's events gives the same state and history."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from stroom_caseload.domain.events import Event, Stored
from stroom_caseload.domain.fold import fold, history
from stroom_caseload.domain.plan import entity_continued, entity_full, entity_write
from stroom_caseload.domain.publication import entity_fact
from stroom_contract.facts import (
    ApplicationState,
    ApplicationVersion,
    BenefitState,
    BenefitVersion,
    EntityState,
    Fact,
    MemberSpell,
    PhaseSpell,
    PlacementState,
    PlacementVersion,
    TrajectoryState,
    TrajectoryVersion,
    Version,
)
from stroom_contract.keys import kind_of
from stroom_contract.rows import entity_rows
from stroom_simulator.bsns import pseudonym

T0 = datetime(2023, 1, 1, 9, tzinfo=UTC)
FACT: TypeAdapter[Any] = TypeAdapter(Fact)
VERSION: dict[str, type[Version]] = {
    "benefit": BenefitVersion,
    "placement": PlacementVersion,
    "application": ApplicationVersion,
    "trajectory": TrajectoryVersion,
}
PEOPLE = ["c1", "c2", "c3"]


def moment(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def day(n: int) -> str:
    return (date(2023, 1, 1) + timedelta(days=n)).isoformat()


def spell(client_ref: str, role: str, birth_date: date, joined_on: date) -> MemberSpell:
    return MemberSpell(client_ref=client_ref, role=role, birth_date=birth_date, joined_on=joined_on)


def member(ref: str, role: str = "applicant") -> dict[str, Any]:
    return {"client_ref": pseudonym(ref), "role": role, "birth_date": "1980-05-05"}


benefit_data = st.one_of(
    st.builds(
        lambda start, muni, reg, members: (
            "stroom.benefit.started.v1",
            {
                "benefit_ref": "B1",
                "municipality": muni,
                "regulation": reg,
                "start_date": day(start),
                "inflow_reason": "other",
                "members": [member(m) for m in members],
            },
        ),
        st.integers(0, 30),
        st.sampled_from(["GM0405", "GM0420"]),
        st.sampled_from(["PW", "IOAW"]),
        st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True),
    ),
    st.builds(
        lambda eff, joined, left: (
            "stroom.benefit.members_changed.v1",
            {
                "benefit_ref": "B1",
                "effective_date": day(eff),
                "joined": [member(m, "partner") for m in joined],
                "left": [{"client_ref": pseudonym(m)} for m in left],
            },
        ),
        st.integers(0, 60),
        st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True),
        st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True),
    ),
    st.builds(
        lambda end, reason: (
            "stroom.benefit.ended.v1",
            {"benefit_ref": "B1", "end_date": day(end), "outflow_reason": reason},
        ),
        st.integers(10, 90),
        st.sampled_from(["employment", "moved_abroad"]),
    ),
)

placement_data = st.one_of(
    st.builds(
        lambda start, kind: (
            "stroom.placement.started.v1",
            {
                "placement_ref": "P1",
                "client": {"client_ref": pseudonym("c1")},
                "municipality": "GM0405",
                "kind": kind,
                "start_date": day(start),
            },
        ),
        st.integers(0, 30),
        st.sampled_from(["wage_subsidy", "regular"]),
    ),
    st.builds(
        lambda end: ("stroom.placement.ended.v1", {"placement_ref": "P1", "end_date": day(end)}),
        st.integers(10, 90),
    ),
)

trajectory_data = st.one_of(
    st.builds(
        lambda eff, phase: (
            "stroom.trajectory.phase_changed.v1",
            {
                "trajectory_ref": "T1",
                "client": {"client_ref": pseudonym("c1")},
                "municipality": "GM0405",
                "phase": phase,
                "effective_date": day(eff),
            },
        ),
        st.integers(0, 20),
        st.sampled_from(["introduction", "finding_work", "keeping_work"]),
    ),
    st.builds(
        lambda end: (
            "stroom.trajectory.ended.v1",
            {"trajectory_ref": "T1", "end_date": day(end), "outcome": "job_accepted"},
        ),
        st.integers(10, 90),
    ),
)

application_data = st.one_of(
    st.builds(
        lambda received: (
            "stroom.application.received.v1",
            {
                "application_ref": "A1",
                "client": {"client_ref": pseudonym("c1")},
                "municipality": "GM0405",
                "regulation": "PW",
                "received_on": day(received),
            },
        ),
        st.integers(0, 30),
    ),
    st.builds(
        lambda decision, on: (
            "stroom.application.decided.v1",
            {"application_ref": "A1", "decision": decision, "decided_on": day(on)},
        ),
        st.sampled_from(["granted", "rejected"]),
        st.integers(10, 60),
    ),
)


@st.composite
def entity_histories(draw: st.DrawFn) -> list[Stored]:
    """A few events of one entity at a few recorded times (ties on purpose), some retracted."""
    data = draw(st.sampled_from([benefit_data, placement_data, trajectory_data, application_data]))
    items = draw(st.lists(data, min_size=1, max_size=7))
    stored = []
    for i, (event_type, payload) in enumerate(items):
        event = Event("gws", f"e{i}", event_type, moment(draw(st.integers(0, 5))), payload)
        retracted = draw(st.one_of(st.none(), st.integers(0, 8).map(moment)))
        stored.append(Stored.until(event, retracted))
    return stored


def shuffled_with_duplicates(stored: list[Stored], seed: int) -> list[Stored]:
    rng = random.Random(seed)
    copies = stored + [rng.choice(stored) for _ in range(rng.randint(0, len(stored)))]
    rng.shuffle(copies)
    return copies


@settings(max_examples=400)
@given(entity_histories(), st.integers(0, 2**32))
def test_any_order_and_duplicates_give_the_same_state_and_history(stored: list[Stored], seed: int) -> None:
    kind = kind_of(stored[0].event.type)
    other = shuffled_with_duplicates(stored, seed)
    live = [s.event for s in stored if s.retracted_at is None]
    assert fold(kind, live) == fold(kind, list(reversed(live)))
    assert history(kind, stored) == history(kind, other)


@settings(max_examples=300)
@given(entity_histories())
def test_history_ends_in_the_state_of_all_unretracted_events_and_never_repeats(stored: list[Stored]) -> None:
    kind = kind_of(stored[0].event.type)
    versions = history(kind, stored)
    assert versions[-1].state == fold(kind, [s.event for s in stored if s.retracted_at is None])
    assert all(a.state != b.state for a, b in itertools.pairwise(versions))
    assert all(a.recorded_from < b.recorded_from for a, b in itertools.pairwise(versions))


def history_by_definition(kind: str, stored: list[Stored]) -> list[Version]:
    """A fold of everything known at each recorded moment, as history() is specified."""
    retracted = {s.event.id: s.retracted[0] for s in stored if s.retracted}
    times = sorted({s.event.time for s in stored} | set(retracted.values()))
    versions: list[Version] = []
    for at in times:
        known = [
            s.event
            for s in stored
            if s.event.time <= at and (s.event.id not in retracted or retracted[s.event.id] > at)
        ]
        state = fold(kind, known)
        if not versions or versions[-1].state != state:
            versions.append(VERSION[kind](at, state))
    return versions


@settings(max_examples=400)
@given(entity_histories(), st.booleans(), st.integers(0, 2**32))
def test_history_equals_a_fold_per_moment(stored: list[Stored], retract: bool, seed: int) -> None:
    # Without retractions history() folds incrementally: both paths against the definition.
    if not retract:
        stored = [Stored(s.event) for s in stored]
    kind = kind_of(stored[0].event.type)
    assert history(kind, shuffled_with_duplicates(stored, seed)) == history_by_definition(kind, stored)


def started(event_id: str, hours: int, start: int, members: list[str], **extra: Any) -> Event:
    data = {
        "benefit_ref": "B1",
        "municipality": "GM0405",
        "regulation": "PW",
        "start_date": day(start),
        "inflow_reason": "other",
        "members": [member(m) for m in members],
        **extra,
    }
    return Event("gws", event_id, "stroom.benefit.started.v1", moment(hours), data)


def test_ended_before_started_waits_for_the_start() -> None:
    end = Event(
        "gws",
        "e2",
        "stroom.benefit.ended.v1",
        moment(1),
        {"benefit_ref": "B1", "end_date": day(40), "outflow_reason": "employment"},
    )
    start = started("e1", 2, 3, ["c1"])
    versions = history("benefit", [Stored(end), Stored(start)])
    assert versions[0].state is None
    last = versions[-1].state
    assert isinstance(last, BenefitState)
    assert (last.start_date, last.end_date, last.outflow_reason) == (
        date(2023, 1, 4),
        date(2023, 2, 10),
        "employment",
    )


def test_members_changed_before_start_is_kept_and_applied() -> None:
    change = Event(
        "gws",
        "e0",
        "stroom.benefit.members_changed.v1",
        moment(0),
        {"benefit_ref": "B1", "effective_date": day(10), "joined": [member("c2", "partner")], "left": []},
    )
    state = fold("benefit", [change, started("e1", 1, 0, ["c1"])])
    assert isinstance(state, BenefitState)
    assert state.members == (
        spell(pseudonym("c1"), "applicant", date(1980, 5, 5), date(2023, 1, 1)),
        spell(pseudonym("c2"), "partner", date(1980, 5, 5), date(2023, 1, 11)),
    )


def test_a_later_started_corrects_and_its_retraction_restores() -> None:
    original = started("e1", 1, 0, ["c1"])
    correction = started("e2", 2, 5, ["c1"], application_ref="A9")
    versions = history("benefit", [Stored(original), Stored.until(correction, moment(3))])
    states = [v.state for v in versions]
    assert [s.start_date if s else None for s in states] == [
        date(2023, 1, 1),
        date(2023, 1, 6),
        date(2023, 1, 1),
    ]  # type: ignore[union-attr]
    assert [v.recorded_from for v in versions] == [moment(1), moment(2), moment(3)]


def test_a_retraction_recorded_before_its_event_hides_it_entirely() -> None:
    placement = Event(
        "gws",
        "p1",
        "stroom.placement.started.v1",
        moment(4),
        {
            "placement_ref": "P1",
            "client": {"client_ref": pseudonym("c1")},
            "municipality": "GM0405",
            "kind": "wage_subsidy",
            "start_date": day(0),
            "hours_per_week": 20.0,
        },
    )
    assert [v.state for v in history("placement", [Stored.until(placement, moment(1))])] == [None]
    only = history("placement", [Stored(placement)])
    assert isinstance(only[0].state, PlacementState)
    assert only[0].state.hours_per_week == 20.0


@settings(max_examples=300)
@given(entity_histories(), entity_histories(), st.integers(0, 2**32))
def test_an_entity_write_sends_the_rows_changed_and_keeps_the_versions_before_its_new_events(
    before: list[Stored], added: list[Stored], seed: int
) -> None:
    # The stored state rows are rewritten from the first version at or after the new events'
    # earliest time; the change published turns the rows stored before into the new ones.
    kind = kind_of(before[0].event.type)
    if kind_of(added[0].event.type) != kind:
        added = []
    key = f"{kind}:src:k"
    rng = random.Random(seed)
    new_events = [Stored(replace(s.event, id=f"n{s.event.id}")) for s in added]
    old = entity_write(key, before)
    previous = old.fact if rng.random() < 0.9 else None
    since = min((s.event.time for s in new_events), default=None)
    new = entity_write(key, before + new_events, (1, previous), since)
    assert new.versions == history(kind, before + new_events)
    kept = new.rewrite_from
    assert new.versions[:kept] == old.versions[:kept]
    assert since is None or all(v.recorded_from < since for v in new.versions[:kept])
    assert since is None or all(v.recorded_from >= since for v in new.versions[kept:])
    full, change = FACT.validate_json(new.fact), FACT.validate_json(new.change)
    assert (full.revision, full.base) == (2, None)
    derived = entity_rows(kind, key, [(v.recorded_from, v.state) for v in new.versions])
    assert len(full.rows) == len(derived)
    assert set(full.rows) == set(derived)
    if previous is None:
        assert change == full
        return
    assert (change.revision, change.base) == (2, 1)
    stored = FACT.validate_json(previous).rows
    rows = {(v.row, v.recorded_from): v.recorded_to for v in stored}
    for version in change.removed:
        del rows[(version.row, version.recorded_from)]
    for version in change.rows:
        rows[(version.row, version.recorded_from)] = version.recorded_to
    assert rows == {(v.row, v.recorded_from): v.recorded_to for v in full.rows}
    # Only what changed: no row version sent again as it was.
    assert not set(change.rows) & set(stored)


def state_from_scratch(kind: str, events: list[Event]) -> EntityState | None:
    """The state as the spec and the facts contract describe it, computed from nothing each time:
    the last opening/closing event in canonical order counts (a later one corrects), a benefit's
    members are its start's members joined on the start date, then each members change in
    effective-date order (canonical order within a date) closes the open membership of who left
    and opens one for who joined and was not a member; a trajectory has one phase per date."""
    ordered = sorted({(e.source, e.id): e for e in events}.values(), key=lambda e: e.order)

    def last(event_type: str) -> dict[str, Any]:
        found = [e.data for e in ordered if e.type == f"stroom.{kind}.{event_type}.v1"]
        return dict(found[-1]) if found else {}

    def on(value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value)

    if kind == "benefit":
        start, end = last("started"), last("ended")
        if not start:
            return None
        begin = date.fromisoformat(start["start_date"])
        members = [
            spell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), begin)
            for m in start["members"]
        ]
        changes = [e.data for e in ordered if e.type == "stroom.benefit.members_changed.v1"]
        for change in sorted(changes, key=lambda c: date.fromisoformat(c["effective_date"])):
            when = date.fromisoformat(change["effective_date"])
            leaving = {c["client_ref"] for c in change["left"]}
            members = [
                replace(m, left_on=when) if m.left_on is None and m.client_ref in leaving else m
                for m in members
            ]
            for m in change["joined"]:
                if all(s.left_on is not None or s.client_ref != m["client_ref"] for s in members):
                    members.append(
                        spell(m["client_ref"], m["role"], date.fromisoformat(m["birth_date"]), when)
                    )
        return BenefitState(
            municipality=start["municipality"],
            regulation=start["regulation"],
            start_date=begin,
            end_date=on(end.get("end_date")),
            inflow_reason=start["inflow_reason"],
            outflow_reason=end.get("outflow_reason"),
            application_ref=start.get("application_ref"),
            members=tuple(members),
        )
    if kind == "placement":
        start, end = last("started"), last("ended")
        if not start:
            return None
        return PlacementState(
            client_ref=start["client"]["client_ref"],
            municipality=start["municipality"],
            kind=start["kind"],
            start_date=date.fromisoformat(start["start_date"]),
            end_date=on(end.get("end_date")),
            hours_per_week=start.get("hours_per_week"),
            employer_ref=start.get("employer_ref"),
            end_reason=end.get("reason"),
        )
    if kind == "application":
        received, decided = last("received"), last("decided")
        if not received:
            return None
        return ApplicationState(
            client_ref=received["client"]["client_ref"],
            municipality=received["municipality"],
            regulation=received["regulation"],
            received_on=date.fromisoformat(received["received_on"]),
            decision=decided.get("decision"),
            decided_on=on(decided.get("decided_on")),
        )
    phase_events = [e.data for e in ordered if e.type == "stroom.trajectory.phase_changed.v1"]
    if not phase_events:
        return None
    per_date = {date.fromisoformat(p["effective_date"]): p["phase"] for p in phase_events}
    end = last("ended")
    return TrajectoryState(
        client_ref=phase_events[-1]["client"]["client_ref"],
        municipality=phase_events[-1]["municipality"],
        phases=tuple(PhaseSpell(phase=per_date[d], effective_date=d) for d in sorted(per_date)),
        end_date=on(end.get("end_date")),
        outcome=end.get("outcome"),
    )


@st.composite
def long_histories(draw: st.DrawFn) -> list[Stored]:
    """Longer histories of one entity: changes dated before ones already folded, corrected starts,
    same-date phases, and events that stop and start counting again (retractions of retractions)
    at and between the events' recorded times."""
    data = draw(st.sampled_from([benefit_data, placement_data, trajectory_data, application_data]))
    items = draw(st.lists(data, min_size=1, max_size=30))
    stored = []
    for i, (event_type, payload) in enumerate(items):
        event = Event("gws", f"e{i}", event_type, moment(draw(st.integers(0, 12))), payload)
        looked = draw(st.lists(st.integers(0, 14).map(moment), max_size=4, unique=True))
        if not looked or draw(st.booleans()):
            stored.append(Stored(event))
            continue
        # Counting flips at each later retraction moment that the draw says changes it.
        periods: list[tuple[datetime, datetime | None]] = []
        start: datetime | None = event.time if draw(st.booleans()) else None
        for at in sorted(m for m in looked if m > event.time):
            if draw(st.booleans()):
                if start is None:
                    start = at
                else:
                    periods.append((start, at))
                    start = None
        if start is not None:
            periods.append((start, None))
        stored.append(Stored(event, tuple(periods), tuple(sorted(looked))))
    return stored


def history_from_scratch(kind: str, stored: list[Stored]) -> list[Version]:
    """The contract's versions: at every recorded moment of the entity's events and retractions,
    the state from scratch of the events counting then; equal neighbours collapsed."""
    times = sorted({s.event.time for s in stored} | {m for s in stored for m in s.retracted})
    versions: list[Version] = []
    for at in times:
        state = state_from_scratch(kind, [s.event for s in stored if s.counts_at(at)])
        if not versions or versions[-1].state != state:
            versions.append(VERSION[kind](at, state))
    return versions


@settings(max_examples=500)
@given(st.one_of(entity_histories(), long_histories()), st.integers(0, 2**32))
def test_fold_and_history_equal_the_state_from_scratch(stored: list[Stored], seed: int) -> None:
    # The fold keeps running state (members, phases) instead of replaying; it must not differ
    # from the plain definition in any order, with duplicates and retractions.
    kind = kind_of(stored[0].event.type)
    shuffled = shuffled_with_duplicates(stored, seed)
    live = [s.event for s in shuffled if s.counts]
    assert fold(kind, live) == state_from_scratch(kind, live)
    versions = history(kind, shuffled)
    assert versions == history_from_scratch(kind, stored)
    # The full change's rows are the versions' rows, as the contract derives them.
    key = f"{kind}:src:k"
    states = [(v.recorded_from, v.state) for v in versions]
    rows = FACT.validate_json(entity_fact(kind, key, 1, versions)).rows
    derived = entity_rows(kind, key, states)
    assert len(rows) == len(derived)
    assert set(rows) == set(derived)


@settings(max_examples=300)
@given(st.one_of(entity_histories(), long_histories()), entity_histories(), st.integers(0, 2**32))
def test_a_fold_continued_with_later_events_equals_the_fold_of_them_all(
    before: list[Stored], added: list[Stored], seed: int
) -> None:
    # The live worker folds a batch's events onto what it kept of the entity when they are all
    # recorded after those folded: the same versions, rows, change and state rows as folding the
    # entity's stored events again, in any order and with duplicates.
    kind = kind_of(before[0].event.type)
    key = f"{kind}:src:k"
    stored = [Stored(s.event) for s in before]
    last = max(s.event.time for s in stored)
    later = [
        Stored(replace(s.event, id=f"n{s.event.id}", time=last + (s.event.time - T0) + timedelta(hours=1)))
        for s in added
        if kind_of(s.event.type) == kind
    ]
    first = entity_write(key, stored)
    assert first.folded is not None
    new = [s.event for s in shuffled_with_duplicates(later, seed)] if later else []
    continued = entity_continued(key, first.folded, new)
    if not later:
        assert continued is None
        return
    assert continued is not None
    since = min(s.event.time for s in later)
    whole = entity_write(key, stored + later, (first.revision, first.fact), since)
    assert continued.versions == whole.versions[continued.first :]
    assert (continued.rewrite_from, continued.revision) == (whole.rewrite_from, whole.revision)
    # The continued fold keeps no full change; derived from the events, it is the whole fold's.
    assert continued.fact is None
    assert entity_full(key, continued.revision, stored + later) == whole.fact
    assert continued.change == whole.change
    assert continued.folded is not None
    assert whole.folded is not None
    assert continued.folded.memo == whole.folded.memo
    assert len(continued.folded.rows.versions()) == len(whole.folded.rows.versions())
    assert set(continued.folded.rows.versions()) == set(whole.folded.rows.versions())
    # An event recorded no later than the last one folded needs the whole fold.
    assert entity_continued(key, first.folded, [replace(stored[0].event, id="again")]) is None
