"""Each simulated run has ids and references of its own, so its file adds to an installation."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from stroom_platform.organisations import load_organisations
from stroom_simulator import Event, simulate_history


def run(seed: int, start: date = date(2020, 1, 1)) -> list[Event]:
    org = load_organisations().organisation("werksaam-westfriesland")
    assert org is not None
    return list(simulate_history(org, years=2, seed=seed, start=start, scale=0.05))


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
