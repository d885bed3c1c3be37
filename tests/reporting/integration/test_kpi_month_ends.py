"""KPI month-end counts summed from the stored cells' changes (and the stock from the monthly flows)
equal the domain's definition day by day, both engines, also as known at earlier moments."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from reporting.changes import as_facts
from reporting.histories import EPOCH, MUNICIPALITIES, random_history
from reporting.samples import record
from stroom_contract.codes import ClientStream
from stroom_contract.facts import Assessment, ClientRecord, Fact, PlanSent, ProgressReport
from stroom_platform.db import make_engine
from stroom_reporting import queries
from stroom_reporting import tables as t
from stroom_reporting.domain import kpi_cells, kpis
from stroom_reporting.domain.months import month_range
from stroom_reporting.kpi_store import benefits_of
from stroom_reporting.repository import apply_facts
from stroom_reporting.service.kpis import _client_file


def client_record(
    rng: random.Random,
    client: str,
    record_id: str,
    recorded: datetime,
    fact: Assessment | ProgressReport | PlanSent,
) -> ClientRecord:
    """A client's record, retracted some time later in one case out of about seven."""
    retracted = recorded + timedelta(days=rng.randrange(1, 200)) if rng.random() < 0.15 else None
    return record(client, record_id, fact, recorded, retracted)


def assessments(rng: random.Random) -> list[Fact]:
    """Clients c0..c399 of the random histories; some on the same day, some retracted later."""
    facts: list[Fact] = []
    for i in range(600):
        client = f"c{rng.randrange(400)}"
        recorded = EPOCH + timedelta(hours=rng.randrange(24 * 700))
        if i >= 500:  # a second assessment of the same day, recorded earlier or later, any id
            client, day = facts[i - 500].client_ref, facts[i - 500].fact.assessed_on  # type: ignore[union-attr]
        fact = Assessment(
            assessed_on=day if i >= 500 else date(2022, 6, 1) + timedelta(days=rng.randrange(0, 1000, 7)),
            ladder_step=3,
            client_stream=rng.choice(list(ClientStream)),
            work_obligation_exempt=rng.random() < 0.2,
        )
        facts.append(client_record(rng, client, f"src|a{rng.randrange(10**6)}-{i}", recorded, fact))
    return facts


async def test_month_end_counts_equal_the_definition(reporting_database: str) -> None:
    rng = random.Random(3)
    facts = [*(random_history(rng, f"benefit:rnd:{i}", 1, 3) for i in range(150)), *assessments(rng)]
    engine = make_engine(reporting_database)
    async with engine.begin() as conn:
        await apply_facts(conn, as_facts(facts), datetime.now(UTC))
    first, last = 202301, 202412
    async with engine.connect() as conn:
        for as_of in (None, EPOCH + timedelta(days=300), EPOCH + timedelta(days=500)):
            spells = await queries.kpi_benefits(
                conn, MUNICIPALITIES, date(2000, 1, 1), date(2100, 1, 1), as_of
            )
            benefits = benefits_of(spells)
            changes = await queries.kpi_sums(
                conn, MUNICIPALITIES, kpi_cells.CHANGES, first, last, as_of, changes=True
            )
            asked = queries.FlowsAsked(
                MUNICIPALITIES, sorted(kpis.KPI_REGULATIONS), ("benefits",), first, last, as_of
            )
            flows = await queries.flows(conn, asked)
            got = kpis.MonthEnds.of_changes(
                ((m, month, a) for m, measure, month, _, a, _ in changes if measure == kpi_cells.P),
                ((m, month, inflow - outflow) for m, _, _, month, inflow, outflow in flows),
                month_range(first, last),
            )
            r = t.client_records.c
            records = await conn.execute(
                select(
                    r.client_ref,
                    r.on_date,
                    r.recorded_at,
                    r.record_id,
                    r.client_stream,
                    r.work_obligation_exempt,
                ).where(r.type == "assessment", queries._visible(as_of))
            )
            clients = kpis.ClientFile.of(((*row[:5], bool(row[5])) for row in records), ())
            expected = kpis.month_ends(benefits, first, last, clients)
            assert any(not m.applicant for b in benefits for m in b.members)
            # The latest assessment on a day as SQL picks it (same day: recorded last) is the domain's.
            for day in (date(2023, 6, 30), date(2024, 3, 31)):
                found = await _client_file(conn, benefits, day, as_of)
                running = [b for b in benefits if b.regulation in kpis.KPI_REGULATIONS]
                running = [b for b in running if b.start_date <= day and (not b.end_date or b.end_date > day)]
                persons = {p.client_ref for b in running if (p := kpis.person_on(b, day))}
                assert any(found.assessment(c, day) for c in persons)
                for c in persons:
                    assert found.assessment(c, day) == clients.assessment(c, day)
            assert sum(sum(c.values()) for c in expected.population.values()) > 0
            for month in expected.population:
                for municipality in MUNICIPALITIES:
                    assert got.population[month][municipality] == expected.population[month][municipality]
                    assert got.stock[month][municipality] == expected.stock[month][municipality]
    await engine.dispose()
