"""Hand-made facts of every kind, with figures a test can state in advance."""

from __future__ import annotations

from datetime import UTC, date, datetime

from reporting.changes import full_change
from stroom_contract.codes import (
    ClientStream,
    Decision,
    InflowReason,
    OutflowReason,
    PlacementKind,
    Regulation,
    Role,
    TrajectoryOutcome,
    TrajectoryPhase,
)
from stroom_contract.facts import (
    ApplicationState,
    ApplicationVersion,
    Assessment,
    BenefitState,
    BenefitVersion,
    ClientFact,
    ClientRecord,
    CoachAssignment,
    Fact,
    MemberSpell,
    PhaseSpell,
    PlacementState,
    PlacementVersion,
    TrajectoryState,
    TrajectoryVersion,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 6, 1, tzinfo=UTC)


def benefit(
    ref: str,
    municipality: str,
    start: date,
    end: date | None = None,
    partner: bool = False,
    applicant: str | None = None,
    recorded_from: datetime = T0,
) -> Fact:
    """`applicant` names the client of an earlier benefit: the same person back in a new one."""
    members = [
        MemberSpell(
            client_ref=f"{applicant or ref}-a",
            role=Role.APPLICANT,
            birth_date=date(1990, 5, 1),
            joined_on=start,
        )
    ]
    if partner:
        members.append(
            MemberSpell(
                client_ref=f"{ref}-p", role=Role.PARTNER, birth_date=date(1960, 1, 1), joined_on=start
            )
        )
    state = BenefitState(
        municipality=municipality,
        regulation=Regulation.PW,
        start_date=start,
        end_date=end,
        inflow_reason=InflowReason.EMPLOYMENT_ENDED,
        outflow_reason=OutflowReason.EMPLOYMENT if end else None,
        members=members,
    )
    return full_change(
        entity=f"benefit:src:{ref}",
        revision=1,
        versions=[BenefitVersion(recorded_from=recorded_from, state=state)],
    )


def placement(ref: str, municipality: str, kind: PlacementKind, start: date, end: date | None = None) -> Fact:
    state = PlacementState(
        client_ref=f"{ref}-c", municipality=municipality, kind=kind, start_date=start, end_date=end
    )
    return full_change(
        entity=f"placement:src:{ref}", revision=1, versions=[PlacementVersion(recorded_from=T0, state=state)]
    )


def application(ref: str, received: date, decision: Decision | None, decided: date | None) -> Fact:
    state = ApplicationState(
        client_ref=f"{ref}-c",
        municipality="GM0405",
        regulation=Regulation.PW,
        received_on=received,
        decision=decision,
        decided_on=decided,
    )
    return full_change(
        entity=f"application:src:{ref}",
        revision=1,
        versions=[ApplicationVersion(recorded_from=T0, state=state)],
    )


def trajectory(
    ref: str, phases: list[tuple[TrajectoryPhase, date]], end: date | None, outcome: TrajectoryOutcome | None
) -> Fact:
    state = TrajectoryState(
        client_ref=f"{ref}-c",
        municipality="GM0405",
        phases=[PhaseSpell(phase=p, effective_date=d) for p, d in phases],
        end_date=end,
        outcome=outcome,
    )
    return full_change(
        entity=f"trajectory:src:{ref}",
        revision=1,
        versions=[TrajectoryVersion(recorded_from=T0, state=state)],
    )


def record(
    client: str,
    record_id: str,
    fact: ClientFact,
    recorded_at: datetime = T0,
    retracted_at: datetime | None = None,
) -> ClientRecord:
    return ClientRecord(
        entity=f"client:{client}",
        record_id=record_id,
        client_ref=client,
        revision=1,
        recorded_at=recorded_at,
        retracted_at=retracted_at,
        fact=fact,
    )


def sample_facts() -> list[Fact]:
    """GM0405 Hoorn: 3 benefits active end of 2024-03 (one a couple), 1 ended in 2024-02;
    GM0420 Medemblik: 1 benefit. Placements, applications, a trajectory and client records."""
    return [
        benefit("b1", "GM0405", date(2023, 11, 15)),
        benefit("b2", "GM0405", date(2024, 1, 10), partner=True),
        benefit("b3", "GM0405", date(2024, 2, 1), date(2024, 2, 20)),
        benefit("b4", "GM0405", date(2024, 3, 31)),
        benefit("b5", "GM0420", date(2024, 1, 5)),
        placement("p1", "GM0405", PlacementKind.SHELTERED_WORK, date(2024, 1, 1)),
        placement("p2", "GM0405", PlacementKind.SHELTERED_WORK, date(2024, 2, 1), date(2024, 3, 31)),
        placement("p3", "GM0405", PlacementKind.WAGE_SUBSIDY, date(2024, 2, 15)),
        application("a1", date(2024, 1, 3), Decision.GRANTED, date(2024, 1, 20)),
        application("a2", date(2024, 1, 5), Decision.REJECTED, date(2024, 2, 2)),
        application("a3", date(2024, 2, 7), Decision.WITHDRAWN, date(2024, 2, 9)),
        application("a4", date(2024, 3, 1), None, None),
        trajectory(
            "t1",
            [
                (TrajectoryPhase.INTRODUCTION, date(2023, 12, 1)),
                (TrajectoryPhase.FINDING_WORK, date(2024, 2, 1)),
            ],
            date(2024, 3, 15),
            TrajectoryOutcome.JOB_ACCEPTED,
        ),
        record(
            "b1-a",
            "src|e1",
            Assessment(
                assessed_on=date(2024, 1, 1),
                ladder_step=3,
                target_step=5,
                client_stream=ClientStream.MEDIABLE,
                work_obligation_exempt=False,
            ),
        ),
        record("b1-a", "src|e2", CoachAssignment(coach_ref="coach-x", assigned_on=date(2024, 1, 2))),
        record("b2-a", "src|e3", CoachAssignment(coach_ref="coach-x", assigned_on=date(2024, 1, 2)), T1),
    ]
