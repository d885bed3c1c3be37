"""Reporting's freshness: the newest recorded time stays the newest when old facts arrive late."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from reporting.samples import benefit
from stroom_contract.facts import BenefitChange
from stroom_platform.db import make_engine
from stroom_reporting import tables as t
from stroom_reporting.repository import apply_facts


def recorded(ref: str, at: datetime) -> BenefitChange:
    fact = benefit(ref, "GM0405", date(2020, 1, 1))
    assert isinstance(fact, BenefitChange)
    return fact.model_copy(update={"rows": [row._replace(recorded_from=at) for row in fact.rows]})


async def test_newest_recorded_and_last_applied_are_two_fields(reporting_database: str) -> None:
    engine = make_engine(reporting_database)
    today, long_ago = datetime(2026, 11, 30, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await apply_facts(conn, [recorded("new", today)], datetime.now(UTC))
        # A late import of a history six years old.
        async with engine.begin() as conn:
            await apply_facts(conn, [recorded("old", long_ago)], datetime.now(UTC))
        async with engine.connect() as conn:
            row = (await conn.execute(select(t.freshness).where(t.freshness.c.read_model == "benefit"))).one()
    finally:
        await engine.dispose()
    assert row.newest_recorded == today
    assert row.latest_recorded == long_ago
    assert row.facts_applied == 2
