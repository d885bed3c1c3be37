"""Small random benefit histories with corrections, retractions, moves and stale redeliveries."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from reporting.changes import History
from stroom_contract.codes import InflowReason, OutflowReason, Regulation, Role
from stroom_contract.facts import BenefitState, BenefitVersion, MemberSpell

MUNICIPALITIES = ("GM0405", "GM0420", "GM0388")
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def _day(rng: random.Random, start: date, span: int) -> date:
    return start + timedelta(days=rng.randrange(span))


def random_state(rng: random.Random) -> BenefitState:
    start = _day(rng, date(2022, 6, 1), 900)
    end = None
    if rng.random() < 0.6:
        # Also ends on the first and last day of a month, and (rarely) an end before the start.
        end = rng.choice([_day(rng, start, 500), start, start - timedelta(days=3)])
    members = [
        MemberSpell(
            client_ref=f"c{rng.randrange(400)}",
            role=Role.APPLICANT,
            birth_date=_day(rng, date(1960, 1, 1), 15000),
            joined_on=start,
            # Sometimes the applicant leaves while the benefit goes on (for the partner, if any).
            left_on=_day(rng, start, 400) if rng.random() < 0.15 else None,
        )
    ]
    if rng.random() < 0.4:
        joined = _day(rng, start - timedelta(days=30), 300)
        left = _day(rng, joined, 400) if rng.random() < 0.5 else None
        members.append(
            MemberSpell(
                client_ref=f"c{rng.randrange(400)}",
                role=Role.PARTNER,
                birth_date=_day(rng, date(1960, 1, 1), 15000),
                joined_on=joined,
                left_on=left,
            )
        )
    return BenefitState(
        municipality=rng.choice(MUNICIPALITIES),
        regulation=rng.choice(list(Regulation)),
        start_date=start,
        end_date=end,
        inflow_reason=rng.choice(list(InflowReason)),
        outflow_reason=rng.choice(list(OutflowReason)) if end else None,
        members=members,
    )


def random_history(rng: random.Random, entity: str, revision: int, versions: int) -> History:
    """Versions at increasing recorded times; some are None (not started yet, or retracted)."""
    times = sorted(EPOCH + timedelta(hours=rng.randrange(24 * 700)) for _ in range(versions))
    return History(
        entity=entity,
        revision=revision,
        versions=[
            BenefitVersion(recorded_from=time, state=None if rng.random() < 0.15 else random_state(rng))
            for time in dict.fromkeys(times)
        ],
    )


def amend(rng: random.Random, history: History, after: datetime | None = None) -> History:
    """The next revision: a late correction inserted among the versions, or one after `after`."""
    versions = list(history.versions)
    if after is None:
        time = EPOCH + timedelta(hours=rng.randrange(24 * 700))
    else:
        time = after + timedelta(hours=1 + rng.randrange(24 * 30))
    state = None if rng.random() < 0.3 else random_state(rng)
    versions = [v for v in versions if v.recorded_from != time]
    versions.append(BenefitVersion(recorded_from=time, state=state))
    versions.sort(key=lambda v: v.recorded_from)
    return History(entity=history.entity, revision=history.revision + 1, versions=versions)
