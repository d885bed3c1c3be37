"""A small simulated event history with noise (corrections, retractions, duplicates, late events).

Raw CloudEvents with BSNs, as case systems send them, in delivery order.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

REGULATIONS = ["PW", "PW", "PW", "IOAW", "IOAZ", "BBZ"]
INFLOW = ["employment_ended", "relationship_ended", "moved_in", "homeless", "other"]
OUTFLOW = ["employment", "self_employment", "moved_to_other_municipality", "relationship_started", "other"]
KINDS = ["wage_subsidy", "regular", "sheltered_work", "work_experience", "volunteer_work"]
PHASES = ["introduction", "personal_development", "work_experience", "finding_work", "keeping_work"]
STREAMS = ["mediable", "developable", "care"]


class _Bsns:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def new(self) -> str:
        while True:
            digits = [self.rng.randint(0, 9) for _ in range(8)]
            check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
            bsn = "".join(map(str, digits)) + str(check)
            if check < 10 and bsn not in self.used and bsn != "000000000":
                self.used.add(bsn)
                return bsn


def simulate(
    municipalities: list[str], start: date, months: int, seed: int, per_month: int = 3, noise: bool = True
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    bsns = _Bsns(rng)
    events: list[dict[str, Any]] = []
    counter = 0
    end_of_time = start + timedelta(days=31 * months)

    def emit(source: str, kind: str, on: date, data: dict[str, Any], late: bool = False) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        delay = timedelta(days=rng.randint(20, 90)) if late else timedelta(hours=rng.randint(1, 72))
        recorded = datetime(on.year, on.month, on.day, 9, tzinfo=UTC) + delay
        event = {
            "specversion": "1.0",
            "id": f"ev-{counter}",
            "source": source,
            "type": f"stroom.{kind}.v1",
            "time": recorded.isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        events.append(event)
        return event

    def late() -> bool:
        return noise and rng.random() < 0.1

    coaches = {m: [f"KM-{m[-3:]}-{i}" for i in range(3)] for m in municipalities}
    for month in range(months):
        first = date(start.year + (start.month - 1 + month) // 12, (start.month - 1 + month) % 12 + 1, 1)
        for municipality in municipalities:
            source = f"gws/{municipality.lower()}"
            for n in range(rng.randint(1, per_month)):
                ref = f"{month}-{n}"
                applicant = {"bsn": bsns.new()}
                received = first + timedelta(days=rng.randint(0, 27))
                regulation = rng.choice(REGULATIONS)
                emit(
                    source,
                    "application.received",
                    received,
                    {
                        "application_ref": f"A{ref}",
                        "client": applicant,
                        "municipality": municipality,
                        "regulation": regulation,
                        "received_on": received.isoformat(),
                    },
                )
                decided = received + timedelta(days=rng.randint(5, 50))
                if decided >= end_of_time:
                    continue
                decision = rng.choice(["granted", "granted", "rejected", "withdrawn"])
                emit(
                    source,
                    "application.decided",
                    decided,
                    {"application_ref": f"A{ref}", "decision": decision, "decided_on": decided.isoformat()},
                    late(),
                )
                if decision != "granted":
                    continue
                begin = received + timedelta(days=rng.randint(0, 10))
                members = [
                    {
                        **applicant,
                        "role": "applicant",
                        "birth_date": f"19{rng.randint(60, 99)}-03-0{rng.randint(1, 9)}",
                    }
                ]
                if rng.random() < 0.3:
                    members.append({"bsn": bsns.new(), "role": "partner", "birth_date": "1985-07-15"})
                started = emit(
                    source,
                    "benefit.started",
                    begin,
                    {
                        "benefit_ref": f"B{ref}",
                        "municipality": municipality,
                        "regulation": regulation,
                        "start_date": begin.isoformat(),
                        "inflow_reason": rng.choice(INFLOW),
                        "members": members,
                        "application_ref": f"A{ref}",
                    },
                    late(),
                )
                if noise and rng.random() < 0.1:
                    corrected = {**started["data"], "regulation": rng.choice(REGULATIONS)}
                    emit(source, "benefit.started", begin + timedelta(days=15), corrected)
                if rng.random() < 0.2:
                    changed = begin + timedelta(days=rng.randint(20, 200))
                    if len(members) > 1:
                        change = {"joined": [], "left": [{"bsn": members[1]["bsn"]}]}
                    else:
                        change = {
                            "joined": [{"bsn": bsns.new(), "role": "partner", "birth_date": "1990-01-02"}],
                            "left": [],
                        }
                    emit(
                        source,
                        "benefit.members_changed",
                        changed,
                        {"benefit_ref": f"B{ref}", "effective_date": changed.isoformat(), **change},
                        late(),
                    )
                client = {"bsn": applicant["bsn"]}
                emit(
                    source,
                    "client.coach_assigned",
                    begin,
                    {
                        "client": client,
                        "coach_ref": rng.choice(coaches[municipality]),
                        "assigned_on": begin.isoformat(),
                    },
                )
                for step in range(rng.randint(1, 2)):
                    on = begin + timedelta(days=10 + 60 * step)
                    emit(
                        source,
                        "client.assessed",
                        on,
                        {
                            "client": client,
                            "assessed_on": on.isoformat(),
                            "ladder_step": rng.randint(1, 6),
                            "target_step": rng.randint(1, 6),
                            "client_stream": rng.choice(STREAMS),
                            "work_obligation_exempt": rng.random() < 0.2,
                        },
                        late(),
                    )
                emit(
                    source,
                    "progress_report.recorded",
                    begin + timedelta(days=30),
                    {"client": client, "recorded_on": (begin + timedelta(days=30)).isoformat()},
                )
                emit(
                    source,
                    "plan.sent",
                    begin + timedelta(days=14),
                    {
                        "plan_ref": f"PL{ref}",
                        "client": client,
                        "sent_on": (begin + timedelta(days=14)).isoformat(),
                    },
                )
                if rng.random() < 0.1:
                    emit(
                        source,
                        "sanction.imposed",
                        begin + timedelta(days=40),
                        {
                            "client": client,
                            "kind": "measure",
                            "imposed_on": (begin + timedelta(days=40)).isoformat(),
                        },
                    )
                if rng.random() < 0.5:
                    phase_on = begin + timedelta(days=7)
                    for phase in rng.sample(PHASES, rng.randint(1, 3)):
                        emit(
                            source,
                            "trajectory.phase_changed",
                            phase_on,
                            {
                                "trajectory_ref": f"T{ref}",
                                "client": client,
                                "municipality": municipality,
                                "phase": phase,
                                "effective_date": phase_on.isoformat(),
                            },
                            late(),
                        )
                        phase_on += timedelta(days=rng.randint(20, 90))
                    if rng.random() < 0.5:
                        emit(
                            source,
                            "trajectory.ended",
                            phase_on,
                            {
                                "trajectory_ref": f"T{ref}",
                                "end_date": phase_on.isoformat(),
                                "outcome": "job_accepted",
                            },
                            late(),
                        )
                if rng.random() < 0.4:
                    placed = begin + timedelta(days=rng.randint(30, 120))
                    emit(
                        source,
                        "placement.started",
                        placed,
                        {
                            "placement_ref": f"P{ref}",
                            "client": client,
                            "municipality": municipality,
                            "kind": rng.choice(KINDS),
                            "start_date": placed.isoformat(),
                            "hours_per_week": float(rng.choice([12, 24, 36])),
                        },
                    )
                    if rng.random() < 0.5:
                        until = placed + timedelta(days=rng.randint(30, 300))
                        emit(
                            source,
                            "placement.ended",
                            until,
                            {"placement_ref": f"P{ref}", "end_date": until.isoformat()},
                            late(),
                        )
                if rng.random() < 0.6:
                    ended = begin + timedelta(days=rng.randint(20, 500))
                    if ended < end_of_time:
                        emit(
                            source,
                            "benefit.ended",
                            ended,
                            {
                                "benefit_ref": f"B{ref}",
                                "end_date": ended.isoformat(),
                                "outflow_reason": rng.choice(OUTFLOW),
                            },
                            late(),
                        )
    if noise:
        for target in rng.sample(events, len(events) // 25):
            retracted = datetime.fromisoformat(target["time"]) + timedelta(days=rng.randint(-3, 40))
            emit(
                target["source"],
                "event.retracted",
                retracted.date(),
                {"retracted_id": target["id"], "reason": "registratiefout"},
            )
            events[-1]["time"] = retracted.isoformat().replace("+00:00", "Z")
        # Retractions retracted in turn, and some of those again: the first retraction's
        # target counts again, then not.
        for _ in range(2):
            retractions = [e for e in events if e["type"] == "stroom.event.retracted.v1"]
            for target in rng.sample(retractions, len(retractions) // 3):
                retracted = datetime.fromisoformat(target["time"]) + timedelta(days=rng.randint(-2, 30))
                emit(
                    target["source"],
                    "event.retracted",
                    retracted.date(),
                    {"retracted_id": target["id"], "reason": "intrekking was onterecht"},
                )
                events[-1]["time"] = retracted.isoformat().replace("+00:00", "Z")
    return events


def deliver(events: list[dict[str, Any]], seed: int, duplicates: float = 0.1) -> list[dict[str, Any]]:
    """Shuffled delivery with some redeliveries (retractions may come before their events)."""
    rng = random.Random(seed)
    delivered = events + [rng.choice(events) for _ in range(int(len(events) * duplicates))]
    rng.shuffle(delivered)
    return delivered
