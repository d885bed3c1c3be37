"""A late correction of who an application or a benefit member is (caseload's entity names
another client_ref from then on): the KPI cells of the client it named before are restated too,
so the incrementally kept cells equal the cells rebuilt from the read models, and the old client's
figure changes from the correction's recorded moment on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.changes import History, as_facts
from stroom_contract.codes import InflowReason, OutflowReason, Regulation, Role
from stroom_contract.facts import (
    ApplicationState,
    ApplicationVersion,
    BenefitState,
    BenefitVersion,
    ClientRecord,
    Fact,
    MemberSpell,
    PlanSent,
)
from stroom_platform.db import make_engine
from stroom_platform.organisations import load_organisations
from stroom_reporting import kpi_store
from stroom_reporting import tables as t
from stroom_reporting.domain import kpi_cells
from stroom_reporting.repository import apply_facts

ORGANISATIONS = load_organisations()
KNOWN = datetime(2024, 3, 1, tzinfo=UTC)
CORRECTED = KNOWN + timedelta(days=30)


def _benefit(client: str, start: date, end: date | None, recorded: datetime) -> BenefitVersion:
    return BenefitVersion(
        recorded_from=recorded,
        state=BenefitState(
            municipality="GM0405",
            regulation=Regulation.PW,
            start_date=start,
            end_date=end,
            inflow_reason=InflowReason.EMPLOYMENT_ENDED,
            outflow_reason=OutflowReason.EMPLOYMENT if end else None,
            members=[
                MemberSpell(
                    client_ref=client, role=Role.APPLICANT, birth_date=date(1980, 1, 1), joined_on=start
                )
            ],
        ),
    )


def _application(client: str, recorded: datetime) -> ApplicationVersion:
    return ApplicationVersion(
        recorded_from=recorded,
        state=ApplicationState(
            client_ref=client, municipality="GM0405", regulation=Regulation.PW, received_on=date(2024, 1, 10)
        ),
    )


async def _cells(conn: AsyncConnection) -> list[tuple[Any, ...]]:
    c = t.kpi_cells.c
    found = await conn.execute(select(*(c[n] for n in kpi_store.CELL_COLUMNS)))
    return sorted(tuple(row) for row in found)


async def _people(conn: AsyncConnection) -> list[tuple[str, str]]:
    p = t.kpi_people.c
    return sorted((client, entity) for client, entity in await conn.execute(select(p.client_ref, p.entity)))


async def _corrected(
    reporting_database: str, before: list[Fact], correction: list[Fact]
) -> list[tuple[Any, ...]]:
    """The cells after `before` and then `correction` were applied, checked against a rebuild."""
    engine = make_engine(reporting_database)
    try:
        for facts in (before, correction):
            async with engine.begin() as conn:
                await apply_facts(conn, facts, datetime.now(UTC), ORGANISATIONS)
        async with engine.connect() as conn:
            kept = await _cells(conn)
            people = await _people(conn)
        async with engine.begin() as conn:
            await kpi_store.rebuild(conn, ORGANISATIONS)
        async with engine.connect() as conn:
            assert await _cells(conn) == kept
            # A client no row names any more is no longer among the benefit's persons.
            assert await _people(conn) == people
        return kept
    finally:
        await engine.dispose()


@pytest.mark.parametrize("rewritten", [False, True])
async def test_a_plan_of_the_applications_former_client_loses_its_lead_time(
    reporting_database: str, rewritten: bool
) -> None:
    # The plan names no application: it is linked to its client's application received before it.
    plan = ClientRecord(
        entity="client:c1",
        record_id="src|plan-1",
        client_ref="c1",
        revision=1,
        recorded_at=KNOWN,
        fact=PlanSent(plan_ref="p1", sent_on=date(2024, 2, 1)),
    )
    entity = "application:src:a1"
    before = as_facts([History(entity, 1, [_application("c1", KNOWN)]), plan])
    # Corrected from a moment on, or the history rewritten (caseload's full change after a refold
    # from before the first version): then no row names c1 any more.
    versions = (
        [_application("c2", KNOWN)]
        if rewritten
        else [_application("c1", KNOWN), _application("c2", CORRECTED)]
    )
    correction = as_facts([History(entity, 2, versions)])

    cells = await _corrected(reporting_database, before, correction)

    k3 = [(row[0], row[1], row[4], row[5], row[6], row[7], row[8]) for row in cells if row[1] == kpi_cells.K3]
    # 22 days from received to sent, until the application turned out to be another client's.
    assert k3 == ([] if rewritten else [("src|plan-1", kpi_cells.K3, "22", 1, 22, KNOWN, CORRECTED)])


@pytest.mark.parametrize("rewritten", [False, True])
async def test_the_former_members_earlier_outflow_no_longer_counts_a_return(
    reporting_database: str, rewritten: bool
) -> None:
    earlier, later = "benefit:src:b1", "benefit:src:b2"
    left = _benefit("c1", date(2023, 6, 1), date(2024, 1, 31), KNOWN)
    returned = _benefit("c1", date(2024, 4, 1), None, KNOWN)
    before = as_facts([History(earlier, 1, [left]), History(later, 1, [returned])])
    if rewritten:
        versions = [_benefit("c2", date(2024, 4, 1), None, KNOWN)]
    else:
        versions = [returned, _benefit("c2", date(2024, 4, 1), None, CORRECTED)]
    correction = as_facts([History(later, 2, versions)])

    cells = await _corrected(reporting_database, before, correction)

    k5 = [(row[0], row[4], row[5], row[6], row[7], row[8]) for row in cells if row[1] == kpi_cells.K5]
    # c1's outflow to work counted as returned within 183 days until the return was c2's.
    if rewritten:
        assert k5 == [(earlier, "2024-01-31", 1, 0, KNOWN, None)]
    else:
        assert k5 == [
            (earlier, "2024-01-31", 1, 0, CORRECTED, None),
            (earlier, "2024-01-31", 1, 1, KNOWN, CORRECTED),
        ]
