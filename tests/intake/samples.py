"""Valid events of every type for the intake tests, with raw BSNs where the contract allows them."""

from __future__ import annotations

import copy
from typing import Any

from stroom_simulator.bsns import pseudonym

# BSNs that pass the 11-check; the tests search for them everywhere they must not be.
BSNS = ("111222333", "123456782", "987654305", "244555667")
BAD_BSN = "111222334"


def event(event_type: str, data: dict[str, Any], event_id: str, source: str = "gws/hoorn") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2024-03-01T09:00:00+01:00",
        "data": data,
    }


def one_of_each(prefix: str = "e", bsn: str = BSNS[0]) -> list[dict[str, Any]]:
    """Every event type once; ids `<prefix>-<n>`."""
    client = {"bsn": bsn}
    datas: list[tuple[str, dict[str, Any]]] = [
        (
            "stroom.application.received.v1",
            {
                "application_ref": "A-1",
                "client": client,
                "municipality": "GM0405",
                "regulation": "PW",
                "received_on": "2024-02-01",
            },
        ),
        (
            "stroom.application.decided.v1",
            {"application_ref": "A-1", "decision": "granted", "decided_on": "2024-02-20"},
        ),
        (
            "stroom.benefit.started.v1",
            {
                "benefit_ref": "B-1",
                "municipality": "GM0405",
                "regulation": "PW",
                "start_date": "2024-03-01",
                "inflow_reason": "employment_ended",
                "members": [{"bsn": bsn, "role": "applicant", "birth_date": "1980-02-29"}],
            },
        ),
        (
            "stroom.benefit.members_changed.v1",
            {
                "benefit_ref": "B-1",
                "effective_date": "2024-04-01",
                "joined": [{"bsn": BSNS[1], "role": "partner", "birth_date": "1982-05-01"}],
            },
        ),
        (
            "stroom.benefit.ended.v1",
            {"benefit_ref": "B-1", "end_date": "2024-09-30", "outflow_reason": "employment"},
        ),
        (
            "stroom.client.assessed.v1",
            {
                "client": client,
                "assessed_on": "2024-03-05",
                "ladder_step": 3,
                "target_step": 5,
                "client_stream": "developable",
                "work_obligation_exempt": False,
            },
        ),
        (
            "stroom.client.coach_assigned.v1",
            {"client": client, "coach_ref": "K-7", "assigned_on": "2024-03-02"},
        ),
        ("stroom.plan.sent.v1", {"plan_ref": "P-1", "client": client, "sent_on": "2024-03-10"}),
        ("stroom.progress_report.recorded.v1", {"client": client, "recorded_on": "2024-06-01"}),
        (
            "stroom.placement.started.v1",
            {
                "placement_ref": "PL-1",
                "client": client,
                "municipality": "GM0405",
                "kind": "wage_subsidy",
                "start_date": "2024-05-01",
                "hours_per_week": 24,
            },
        ),
        ("stroom.placement.ended.v1", {"placement_ref": "PL-1", "end_date": "2024-08-31"}),
        (
            "stroom.trajectory.phase_changed.v1",
            {
                "trajectory_ref": "T-1",
                "client": client,
                "municipality": "GM0405",
                "phase": "introduction",
                "effective_date": "2024-03-03",
            },
        ),
        (
            "stroom.trajectory.ended.v1",
            {"trajectory_ref": "T-1", "end_date": "2024-09-01", "outcome": "job_accepted"},
        ),
        ("stroom.sanction.imposed.v1", {"client": client, "kind": "measure", "imposed_on": "2024-04-15"}),
        ("stroom.event.retracted.v1", {"retracted_id": f"{prefix}-9", "reason": "entered twice"}),
    ]
    return [event(t, d, f"{prefix}-{n}") for n, (t, d) in enumerate(datas)]


def changed(raw: dict[str, Any], **data_changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(raw)
    copied["data"].update(data_changes)
    return copied


def assessments(count: int, prefix: str = "as") -> list[dict[str, Any]]:
    """Many small valid events, for streams where the content does not matter."""
    return [
        event(
            "stroom.client.assessed.v1",
            {
                "client": {"client_ref": pseudonym(f"c-{n % 97}")},
                "assessed_on": "2024-03-05",
                "ladder_step": 1 + n % 6,
                "client_stream": "mediable",
                "work_obligation_exempt": False,
            },
            f"{prefix}-{n}",
        )
        for n in range(count)
    ]
