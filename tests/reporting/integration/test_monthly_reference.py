"""Report 1 from the read models equals the reference, through corrections, retractions, as_of."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from reporting.changes import History, as_facts
from reporting.histories import EPOCH, MUNICIPALITIES, amend, random_history
from reporting.reference import reference_monthly
from stroom_contract.facts import Fact
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_reporting.domain.months import format_month, month_range
from stroom_reporting.repository import apply_facts
from stroom_reporting.service import reports

FIRST, LAST = 202201, 202512
MONTHS = [(m // 100, m % 100) for m in month_range(FIRST, LAST)]


def scope(organisations: OrganisationsConfig) -> reports.Scope:
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None
    return reports.Scope(org, list(MUNICIPALITIES), organisations.municipality_names)


async def apply_shuffled(engine: AsyncEngine, facts: Sequence[Fact], rng: random.Random) -> None:
    shuffled = list(facts)
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 7):
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(shuffled[start : start + 7]), datetime.now(UTC))


async def assert_equals_reference(
    engine: AsyncEngine,
    organisations: OrganisationsConfig,
    latest: dict[str, History],
    as_of: datetime | None,
) -> None:
    expected = reference_monthly(latest.values(), as_of, MONTHS)
    async with engine.connect() as conn:
        report = await reports.monthly(
            conn, scope(organisations), reports.REGULATIONS, ("benefits", "persons"), FIRST, LAST, as_of
        )
    tables = {table.name: table.rows for table in report.tables}
    got = {
        (r["municipality"], r["regulation"], r["unit"], int(r["month"].replace("-", ""))): (
            r["begin"],
            r["inflow"],
            r["outflow"],
            r["end"],
        )
        for r in tables["rows"]
    }
    assert len(got) == len(MUNICIPALITIES) * 4 * 2 * len(MONTHS)
    assert {k: v for k, v in got.items() if v != (0, 0, 0, 0)} == {
        k: v for k, v in expected.items() if v != (0, 0, 0, 0)
    }
    # Before the first recorded version nothing is known yet; after it, something must be.
    assert any(v != (0, 0, 0, 0) for v in got.values()) == (
        as_of is None or as_of > EPOCH + timedelta(days=30)
    )
    for row in tables["organisation_totals"]:
        month = int(row["month"].replace("-", ""))
        parts = [v for k, v in got.items() if k[2] == row["unit"] and k[3] == month]
        assert row["end"] == sum(p[3] for p in parts) == row["begin"] + row["inflow"] - row["outflow"]


async def test_monthly_equals_reference_through_corrections(
    reporting_database: str, organisations: OrganisationsConfig
) -> None:
    engine = make_engine(reporting_database)
    rng = random.Random(20240601)
    latest = {
        f"benefit:src:{i}": random_history(rng, f"benefit:src:{i}", 1, rng.randint(1, 4)) for i in range(80)
    }
    # Redelivery of everything: duplicates are harmless.
    await apply_shuffled(engine, [*latest.values(), *latest.values()], rng)
    await assert_equals_reference(engine, organisations, latest, None)
    published_at = EPOCH + timedelta(days=400)
    published = reference_monthly(latest.values(), published_at, MONTHS)
    await assert_equals_reference(engine, organisations, latest, published_at)

    # New events after the publication: corrections, retractions, late ends; older revisions
    # redelivered among them must not win.
    stale = list(latest.values())
    for entity in rng.sample(sorted(latest), 40):
        latest[entity] = amend(rng, latest[entity], after=EPOCH + timedelta(days=700))
    await apply_shuffled(engine, [*latest.values(), *rng.sample(stale, 30)], rng)
    await assert_equals_reference(engine, organisations, latest, None)
    assert reference_monthly(latest.values(), published_at, MONTHS) == published
    await assert_equals_reference(engine, organisations, latest, published_at)

    # Late events recorded before the publication restate earlier months, also of closed years.
    for entity in rng.sample(sorted(latest), 30):
        latest[entity] = amend(rng, latest[entity])
    await apply_shuffled(engine, list(latest.values()), rng)
    for as_of in (None, EPOCH, published_at, EPOCH + timedelta(days=200), EPOCH + timedelta(days=900)):
        await assert_equals_reference(engine, organisations, latest, as_of)
    await engine.dispose()


async def test_trace_count_equals_figure(reporting_database: str, organisations: OrganisationsConfig) -> None:
    from stroom_reporting import queries
    from stroom_reporting.domain.months import last_day, previous_month

    engine = make_engine(reporting_database)
    rng = random.Random(7)
    histories = [random_history(rng, f"benefit:src:{i}", 1, 2) for i in range(60)]
    await apply_shuffled(engine, histories, rng)
    async with engine.connect() as conn:
        report = await reports.monthly(
            conn, scope(organisations), reports.REGULATIONS, ("benefits", "persons"), 202301, 202412, None
        )
        checked = 0
        for row in report.tables[0].rows:
            if row["begin"] + row["inflow"] + row["outflow"] == 0:
                continue
            month = int(row["month"].replace("-", ""))
            for measure in ("begin", "inflow", "outflow", "end"):
                day = last_day(previous_month(month) if measure == "begin" else month)
                refs = await queries.trace(
                    conn, row["municipality"], row["regulation"], row["unit"], measure, month, day, None
                )
                assert len(refs) == row[measure], (format_month(month), measure)
                checked += 1
        assert checked > 100
    await engine.dispose()
