"""The simulated histories: deterministic, valid against the contract, realistic, noisy on request."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import Any

import orjson
import pytest

from stroom_contract.bsn import Pseudonymiser, is_valid_bsn
from stroom_contract.validation import EventValidator
from stroom_platform.organisations import Organisation, load_organisations
from stroom_simulator import Event, simulate_history

RETRACTED = "stroom.event.retracted.v1"
START = date(2020, 1, 1)


def organisation(code: str) -> Organisation:
    found = load_organisations().organisation(code)
    assert found is not None
    return found


@cache
def history(code: str = "werksaam-westfriesland", scale: float = 0.1, noise: bool = True) -> list[Event]:
    return list(simulate_history(organisation(code), years=5, seed=7, start=START, noise=noise, scale=scale))


def bsns_of(event: Event) -> list[str]:
    data = event["data"]
    people = [data.get("client"), *data.get("members", ()), *data.get("joined", ()), *data.get("left", ())]
    return [person["bsn"] for person in people if person and "bsn" in person]


def truth(events: list[Event]) -> list[Event]:
    """The events that count: the first delivery of each, without retracted ones and retractions."""
    retracted = {(e["source"], e["data"]["retracted_id"]) for e in events if e["type"] == RETRACTED}
    seen: set[tuple[str, str]] = set()
    kept = []
    for event in events:
        key = (event["source"], event["id"])
        if key not in seen and key not in retracted and event["type"] != RETRACTED:
            kept.append(event)
        seen.add(key)
    return kept


def test_same_arguments_give_the_same_history_and_another_seed_another() -> None:
    werksaam = organisation("werksaam-westfriesland")
    first = list(simulate_history(werksaam, years=2, seed=3, start=START, scale=0.05))
    again = list(simulate_history(werksaam, years=2, seed=3, start=START, scale=0.05))
    other = list(simulate_history(werksaam, years=2, seed=4, start=START, scale=0.05))
    assert orjson.dumps(first) == orjson.dumps(again)
    assert orjson.dumps(first) != orjson.dumps(other)


@pytest.mark.parametrize("code", ["werksaam-westfriesland", "ijmond-werkt", "bar"])
def test_every_event_is_valid_against_the_contract(code: str) -> None:
    config = load_organisations()
    validator = EventValidator(Pseudonymiser(b"simulator-test-key-0123"), config.municipality_codes)
    events = history(code, scale=0.05)
    sources = {f"urn:stroom:gws:{m.code}" for m in organisation(code).municipalities}
    for event in events:
        envelope = validator.validate(event)
        assert envelope.source in sources
        assert datetime.fromisoformat(event["time"]).utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert {e["type"] for e in events} >= {
        "stroom.application.received.v1",
        "stroom.benefit.started.v1",
        "stroom.benefit.ended.v1",
        "stroom.client.assessed.v1",
        "stroom.placement.started.v1",
        "stroom.trajectory.phase_changed.v1",
        RETRACTED,
    }


def test_bsns_pass_the_11_check_and_each_person_has_their_own() -> None:
    birth_dates: dict[str, set[str]] = {}
    all_bsns = set()
    for event in history():
        all_bsns.update(bsns_of(event))
        data = event["data"]
        for member in (*data.get("members", ()), *data.get("joined", ())):
            birth_dates.setdefault(member["bsn"], set()).add(member["birth_date"])
    assert all(is_valid_bsn(bsn) for bsn in all_bsns)
    # A BSN shared by two people would show up with two birth dates.
    assert all(len(dates) == 1 for dates in birth_dates.values())
    assert len(all_bsns) > 1000


def test_proportions_look_like_the_real_caseload() -> None:
    events = truth(history(scale=0.3, noise=False))
    started = [e["data"] for e in events if e["type"] == "stroom.benefit.started.v1"]
    by_municipality = Counter(d["municipality"] for d in started)
    assert by_municipality.most_common(1)[0][0] == "GM0405"  # Hoorn
    assert min(by_municipality, key=by_municipality.__getitem__) == "GM0432"  # Opmeer
    regulations = Counter(d["regulation"] for d in started)
    assert regulations["PW"] / len(started) > 0.8
    assert 0 < regulations["BBZ"] < regulations["IOAW"] + regulations["BBZ"] < 0.2 * len(started)
    decisions = Counter(e["data"]["decision"] for e in events if e["type"] == "stroom.application.decided.v1")
    not_granted = (decisions["rejected"] + decisions["withdrawn"]) / decisions.total()
    assert 0.4 < not_granted < 0.65
    granted_refs = {
        e["data"]["application_ref"]
        for e in events
        if e["type"] == "stroom.application.decided.v1" and e["data"]["decision"] == "granted"
    }
    assert granted_refs == {d["application_ref"] for d in started if "application_ref" in d}
    outflow = Counter(e["data"]["outflow_reason"] for e in events if e["type"] == "stroom.benefit.ended.v1")
    assert outflow.most_common(1)[0][0] == "employment"
    inflow = Counter(d["inflow_reason"] for d in started)
    assert inflow["moved_in"] > 0
    assert inflow["refugee_settlement"] > 0
    kinds = Counter(e["data"]["kind"] for e in events if e["type"] == "stroom.placement.started.v1")
    assert {"regular", "wage_subsidy", "sheltered_work", "work_experience", "volunteer_work"} <= set(kinds)


def test_moves_within_the_region_and_the_revolving_door() -> None:
    events = truth(history(scale=0.3, noise=False))
    applicant_places: dict[str, list[tuple[str, str]]] = {}
    for event in events:
        if event["type"] == "stroom.benefit.started.v1":
            data = event["data"]
            bsn = data["members"][0]["bsn"]
            applicant_places.setdefault(bsn, []).append((data["municipality"], data["inflow_reason"]))
    several = [places for places in applicant_places.values() if len(places) > 1]
    assert any(p[0][0] != p[1][0] and p[1][1] == "moved_in" for p in several)
    assert any(p[0][0] == p[1][0] for p in several)


def test_the_stock_stays_roughly_stable() -> None:
    events = truth(history(scale=0.3))
    starts: dict[tuple[str, str], date] = {}
    ends: dict[tuple[str, str], date] = {}
    for event in events:
        data = event["data"]
        if event["type"] == "stroom.benefit.started.v1":
            starts[(event["source"], data["benefit_ref"])] = date.fromisoformat(data["start_date"])
        elif event["type"] == "stroom.benefit.ended.v1":
            ends[(event["source"], data["benefit_ref"])] = date.fromisoformat(data["end_date"])
    yearly = []
    for year in range(2020, 2025):
        day = date(year, 7, 1)
        yearly.append(sum(1 for key, start in starts.items() if start <= day and ends.get(key, day) >= day))
    expected = round(2820 * 0.3)
    assert all(abs(count - expected) < 0.12 * expected for count in yearly), yearly
    ended_per_year = Counter(end.year for end in ends.values())
    assert all(0.25 * expected < ended_per_year[year] < 0.7 * expected for year in range(2020, 2025))


def positions(events: list[Event]) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for index, event in enumerate(events):
        found.setdefault((event["source"], event["id"]), []).append(index)
    return found


def entity_order(events: list[Event], kind: str) -> tuple[dict[Any, int], dict[Any, int]]:
    """Where each entity's started and ended was first delivered."""
    started: dict[Any, int] = {}
    ended: dict[Any, int] = {}
    for index, event in enumerate(events):
        ref = event["data"].get(f"{kind}_ref")
        if event["type"] == f"stroom.{kind}.started.v1":
            started.setdefault((event["source"], ref), index)
        elif event["type"] == f"stroom.{kind}.ended.v1":
            ended.setdefault((event["source"], ref), index)
    return started, ended


def test_noise_brings_duplicates_late_and_reordered_events_and_retractions() -> None:
    events = history()
    at = positions(events)
    duplicates = [indexes for indexes in at.values() if len(indexes) > 1]
    assert len(duplicates) > 0.01 * len(at)
    assert all(events[i[0]] == events[i[1]] and events[i[0]] is not events[i[1]] for i in duplicates)
    retractions = [e for e in events if e["type"] == RETRACTED]
    assert retractions
    targets = [
        (at[(r["source"], r["data"]["retracted_id"])][0], at[(r["source"], r["id"])][0]) for r in retractions
    ]
    assert any(target < retraction for target, retraction in targets)
    assert any(retraction < target for target, retraction in targets)
    # Some retractions correct a month that had already closed when they arrived.
    assert any(
        datetime.fromisoformat(events[r]["time"]).month != datetime.fromisoformat(events[t]["time"]).month
        for t, r in targets
    )
    for kind in ("benefit", "placement"):
        started, ended = entity_order(events, kind)
        assert any(ended[key] < started[key] for key in ended)
    times = [datetime.fromisoformat(e["time"]) for e in events]
    latest = list(accumulate(times, max))
    assert any(newest - time > timedelta(days=60) for newest, time in zip(latest, times, strict=True))


def test_without_noise_delivery_follows_recorded_time_and_causes() -> None:
    events = history(noise=False)
    times = [datetime.fromisoformat(e["time"]) for e in events]
    assert times == sorted(times)
    assert all(len(indexes) == 1 for indexes in positions(events).values())
    assert not any(e["type"] == RETRACTED for e in events)
    for kind in ("benefit", "placement"):
        started, ended = entity_order(events, kind)
        assert all(started[key] < ended[key] for key in ended)


def test_noise_leaves_the_facts_as_they_were() -> None:
    noisy = sorted(orjson.dumps(e) for e in truth(history()))
    clean = sorted(orjson.dumps(e) for e in history(noise=False))
    assert noisy == clean
