"""Each simulated run has ids and references of its own, so its file adds to an installation."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from stroom_platform.organisations import load_organisations
from stroom_simulator import Event, simulate_history


def run(seed: int, start: date = date(2020, 1, 1), years: int = 2, scale: float = 0.05) -> list[Event]:
    org = load_organisations().organisation("werksaam-westfriesland")
    assert org is not None
    return list(simulate_history(org, years=years, seed=seed, start=start, scale=scale))


def refs(events: list[Event]) -> set[str]:
    """The references to what a run makes up; coaches and employers are the municipality's own."""
    shared = ("coach_ref", "employer_ref")
    return {
        v
        for e in events
        for k, v in e["data"].items()
        if k.endswith("_ref") and k not in shared and isinstance(v, str)
    }


def test_same_arguments_same_ids_other_arguments_other_ids() -> None:
    first, again = run(1), run(1)
    assert [e["id"] for e in first] == [e["id"] for e in again]
    for other in (run(2), run(1, date(2021, 1, 1))):
        assert not {(e["source"], e["id"]) for e in first} & {(e["source"], e["id"]) for e in other}
        assert not refs(first) & refs(other)


def test_coaches_belong_to_one_municipality_team() -> None:
    teams: defaultdict[str, set[str]] = defaultdict(set)
    for event in run(3):
        if event["type"] == "stroom.client.coach_assigned.v1":
            teams[event["data"]["coach_ref"]].add(event["source"])
    assert teams
    assert all(len(sources) == 1 for sources in teams.values())
    assert Counter(ref.rsplit("-", 1)[0] for ref in teams).keys() == {
        f"klantmanager-{source.rsplit(':', 1)[-1]}" for sources in teams.values() for source in sources
    }


def test_caseloads_per_coach_are_realistic() -> None:
    """50-150 clients per coach of Hoorn's team on a day, as in the source documents; a client
    without a coach the exception (partners are guided by the applicant's coach)."""
    events = [e for e in run(5, years=3, scale=0.5) if e["source"].endswith("GM0405")]
    day = "2022-06-30"
    ended = {
        e["data"]["benefit_ref"]
        for e in events
        if e["type"] == "stroom.benefit.ended.v1" and e["data"]["end_date"] <= day
    }
    active = {
        member["bsn"]
        for e in events
        if e["type"] == "stroom.benefit.started.v1"
        and e["data"]["start_date"] <= day
        and e["data"]["benefit_ref"] not in ended
        for member in e["data"]["members"]
    }
    assigned = sorted(
        (e["data"] for e in events if e["type"] == "stroom.client.coach_assigned.v1"),
        key=lambda data: data["assigned_on"],
    )
    coach = {data["client"]["bsn"]: data["coach_ref"] for data in assigned if data["assigned_on"] <= day}
    per_coach = Counter(coach[person] for person in active if person in coach)
    assert len(per_coach) >= 5
    assert min(per_coach.values()) >= 50, per_coach
    assert max(per_coach.values()) <= 150, per_coach
    assert sum(1 for person in active if person not in coach) / len(active) < 0.1
