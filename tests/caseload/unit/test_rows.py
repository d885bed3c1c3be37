"""Rows derived version by version from what changed equal the rows of every version derived whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_caseload.repository import state_rows
from stroom_caseload.tables import live
from stroom_contract.codes import InflowReason, Regulation, Role
from stroom_contract.facts import BenefitState, BenefitVersion, MemberSpell, Version
from stroom_contract.rows import EntityRows, Recorded, Row, count_spells, entity_rows

T0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
D0 = date(2024, 1, 1)
KEY = "benefit:src:B1"

# One step of a benefit's history: a member joins (possibly someone already there, making an
# equal row), one leaves (a new spell object), the benefit's own fields change (every row
# does), every spell is made again equal (a refold), the benefit is retracted (no state), or
# nothing changes but the objects.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 5)),
        st.tuples(st.just("leave"), st.integers(0, 20), st.integers(0, 5)),
        st.tuples(st.just("end"), st.none() | st.integers(0, 5), st.sampled_from(["GM0405", "GM0420"])),
        st.tuples(st.just("again"), st.none(), st.none()),
        st.tuples(st.just("gone"), st.none(), st.none()),
    ),
    min_size=1,
    max_size=25,
)


def states(plan: list[tuple[str, object, object]]) -> list[BenefitState | None]:
    """The benefit's state after each step, keeping an unchanged spell as the same object (as
    the fold does)."""
    state = BenefitState(
        municipality="GM0405",
        regulation=Regulation.PW,
        start_date=D0,
        end_date=None,
        inflow_reason=InflowReason.OTHER,
        outflow_reason=None,
        application_ref=None,
        members=(MemberSpell(client_ref="c0", role=Role.APPLICANT, birth_date=D0, joined_on=D0),),
    )
    result: list[BenefitState | None] = [state]
    for action, a, b in plan:
        members = state.members
        if action == "join":
            joined = MemberSpell(
                client_ref=str(a),
                role=Role.PARTNER,
                birth_date=D0,
                joined_on=D0 + timedelta(days=int(str(b))),
            )
            state = replace(state, members=(*members, joined))
        elif action == "leave":
            at = int(str(a)) % len(members)
            left = replace(members[at], left_on=D0 + timedelta(days=int(str(b))))
            state = replace(state, members=(*members[:at], left, *members[at + 1 :]))
        elif action == "end":
            end = None if a is None else D0 + timedelta(days=int(str(a)))
            state = replace(state, end_date=end, municipality=str(b))
        elif action == "again":
            state = replace(state, members=tuple(replace(m) for m in members))
        result.append(None if action == "gone" else state)
    return result


def whole(versions: list[tuple[datetime, BenefitState | None]]) -> set[Recorded[Row]]:
    """The definition: each version's rows derived whole, a row living from the first version
    that yields it until the first that no longer does."""
    living: dict[Row, datetime] = {}
    rows: set[Recorded[Row]] = set()
    for moment, state in versions:
        current = set(count_spells(KEY, state)) if state is not None else set()
        for row in [r for r in living if r not in current]:
            rows.add(Recorded(row, living.pop(row), moment))
        for row in current:
            living.setdefault(row, moment)
    return rows | {Recorded(row, since, None) for row, since in living.items()}


@settings(max_examples=400)
@given(steps, st.integers(0, 25))
def test_rows_derived_from_what_changed_equal_the_rows_derived_whole(
    plan: list[tuple[str, object, object]], cut: int
) -> None:
    versions = [(T0 + timedelta(hours=n), state) for n, state in enumerate(states(plan))]
    expected = whole(versions)
    derived = entity_rows("benefit", KEY, versions)
    assert len(derived) == len(expected)
    assert set(derived) == expected
    # Kept between batches: the rows up to a version go on with the versions after it, and
    # each batch's change is what turns the rows before it into those after.
    cut = min(cut, len(versions) - 1)
    kept = EntityRows("benefit", KEY)
    kept.extend(versions[: cut + 1])
    before = set(kept.versions())
    put = kept.extend(versions[cut + 1 :])
    after = kept.versions()
    assert set(after) == expected
    assert len(after) == len(expected)
    assert set(put) == set(after) - before
    # Known by their rows only (stored): the same, from the last version kept on.
    at = versions[cut][0]
    stored = EntityRows(
        "benefit",
        KEY,
        [r for r in before if r.recorded_to is not None and r.recorded_to <= at],
        {r.row: r.recorded_from for r in before if r.recorded_to is None},
    )
    stored.extend(versions[cut:])
    assert set(stored.versions()) == expected


def spell_versions(rows: list[tuple[object, dict[str, object]]]) -> set[tuple[object, ...]]:
    return {
        (
            row["version"],
            row["seq"],
            row["recorded_from"],
            row["recorded_to"],
            row["client_ref"],
            row["left_on"],
        )
        for table, row in rows
        if table is live.members
    }


@settings(max_examples=300)
@given(steps, st.integers(0, 25))
def test_membership_rows_are_spell_versions_whatever_the_batches(
    plan: list[tuple[str, object, object]], cut: int
) -> None:
    # Stored per spell over recorded time: each member's row as known at any moment is the one
    # of the version valid then, and writing the versions in two batches (the second on top of
    # the first's spells, closing those it changes) gives the rows of one write.
    versions: list[Version] = [
        BenefitVersion(T0 + timedelta(hours=n), state) for n, state in enumerate(states(plan))
    ]
    one = state_rows(live, KEY, versions)
    assert one.closed == []
    members = [row for table, row in one.rows if table is live.members]
    for probe, version in enumerate(versions):
        at = version.recorded_from
        known = sorted(
            (row["seq"], row["client_ref"], row["joined_on"], row["left_on"], row["end_date"])
            for row in members
            if row["recorded_from"] <= at and (row["recorded_to"] is None or row["recorded_to"] > at)
        )
        state = version.state
        assert known == sorted(
            (seq, m.client_ref, m.joined_on, m.left_on, state.end_date)
            for seq, m in enumerate(state.members if state is not None else ())
        ), probe
    cut = min(cut, len(versions) - 1)
    first = state_rows(live, KEY, versions[: cut + 1])
    second = state_rows(live, KEY, versions[cut:], cut, cut, cut + 1)
    stored = [(table, dict(row)) for table, row in first.rows]
    for table, close in second.closed:
        assert table is live.members
        (open_,) = [
            row
            for t, row in stored
            if t is table and row["seq"] == close["seq"] and row["recorded_to"] is None
        ]
        open_["recorded_to"] = close["recorded_to"]
    assert spell_versions(stored + second.rows) == spell_versions(one.rows)


@settings(max_examples=300)
@given(steps, st.integers(0, 25))
def test_an_appended_batch_closes_the_last_stored_version_in_place(
    plan: list[tuple[str, object, object]], cut: int
) -> None:
    # The second batch writes its own versions only and ends the last stored one where the
    # next begins: the per-version rows of both, with that closing applied, are those of one write.
    versions: list[Version] = [
        BenefitVersion(T0 + timedelta(hours=n), state) for n, state in enumerate(states(plan))
    ]
    one = state_rows(live, KEY, versions)
    cut = min(cut, len(versions) - 1)
    first = state_rows(live, KEY, versions[: cut + 1])
    second = state_rows(live, KEY, versions[cut:], cut + 1, cut, cut + 1, close_before=True)
    stored = {row["version"]: dict(row) for table, row in first.rows if table is live.benefits}
    closings = [close for table, close in second.closed if table is live.benefits]
    ends = cut + 1 < len(versions) and versions[cut].state is not None
    assert closings == (
        [{"entity_key": KEY, "version": cut, "recorded_to": versions[cut + 1].recorded_from}] if ends else []
    )
    for close in closings:
        assert stored[close["version"]]["recorded_to"] is None
        stored[close["version"]]["recorded_to"] = close["recorded_to"]
    added = [row for table, row in second.rows if table is live.benefits]
    assert all(row["version"] > cut for row in added)
    expected = sorted((row for table, row in one.rows if table is live.benefits), key=lambda r: r["version"])
    assert sorted([*stored.values(), *added], key=lambda r: r["version"]) == expected
    # The spells are written as without the closing.
    assert [r for r in second.rows if r[0] is not live.benefits] == [
        r for r in state_rows(live, KEY, versions[cut:], cut, cut, cut + 1).rows if r[0] is not live.benefits
    ]
