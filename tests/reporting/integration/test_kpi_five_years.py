"""Five simulated years of WerkSaam Westfriesland, pushed through caseload's fold into facts and
loaded as the facts consumer loads them (PostgreSQL and SQLite): the KPI sheet served from the
materialised cells equals the KPIs recomputed from the read models for every quarter, every
municipality and the organisation as a whole (every value, numerator and denominator, the K3
median, K5 pending, the rates and the revolving door), today and as known at a moment in the
third year."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from conftest import migrated_postgres_database

from reporting.integration.test_kpi_materialised import (
    CODES,
    ORGANISATION,
    ORGANISATIONS,
    materialised,
    reference,
)
from stroom_caseload.commands import migrate as caseload_migrate
from stroom_caseload.service import apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.facts import Fact
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_reporting.consumer import FACT_ADAPTER
from stroom_reporting.domain import kpis
from stroom_reporting.repository import apply_facts
from stroom_reporting.service.reports import Scope
from stroom_simulator import simulate_history

START = date(2020, 1, 1)
YEARS = 5
SCALE = 0.05
QUARTERS = [(year * 100 + m, year * 100 + m + 2) for year in range(2020, 2025) for m in (1, 4, 7, 10)]
# Mid third year: what was known then, late events and retractions recorded afterwards left out.
KNOWN_THEN = datetime(2022, 7, 1, tzinfo=UTC)
LARGEST = "GM0405"  # Hoorn
BATCH = 400  # events per caseload transaction, as a consumer's poll


async def facts_of(
    raw: Sequence[dict[str, Any]], validator: EventValidator, caseload_url: str
) -> list[list[Fact]]:
    """The facts caseload publishes for the raw events delivered in order, batch by batch, on the
    database of `caseload_url` with caseload's tables."""
    engine = make_engine(caseload_url)
    published: list[list[Fact]] = []
    try:
        for start in range(0, len(raw), BATCH):
            envelopes = [validator.validate(e) for e in raw[start : start + BATCH]]
            async with engine.begin() as conn:
                applied = await apply_events(conn, envelopes)
            published.append([FACT_ADAPTER.validate_json(f.value) for f in applied.facts])
    finally:
        await engine.dispose()
    return published


def mismatches(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Per row and field where the two sheets differ: municipality, KPI, field, reference, served."""
    return [
        (want["municipality"], want["kpi"], key, want[key], have.get(key))
        for want, have in zip(expected, got, strict=True)
        for key in want
        if want[key] != have.get(key)
    ]


@pytest.mark.long
async def test_the_materialised_sheet_equals_the_reference_over_five_years(
    reporting_database: str, postgres_server_url: str, pseudonymiser: Pseudonymiser
) -> None:
    raw = list(simulate_history(ORGANISATION, years=YEARS, seed=14, start=START, scale=SCALE, noise=True))
    validator = EventValidator(pseudonymiser, ORGANISATIONS.municipality_codes)
    batches = await facts_of(
        raw, validator, await migrated_postgres_database(postgres_server_url, caseload_migrate)
    )
    engine = make_engine(reporting_database)
    for batch in batches:
        async with engine.begin() as conn:
            await apply_facts(conn, batch, datetime.now(UTC), ORGANISATIONS)
    whole = Scope(ORGANISATION, CODES, ORGANISATIONS.municipality_names)
    scopes = [whole, *(Scope(ORGANISATION, [m], ORGANISATIONS.municipality_names) for m in CODES)]
    sheets: dict[tuple[int, int], list[dict[str, Any]]] = {}
    try:
        async with engine.connect() as conn:
            for quarter in QUARTERS:
                # Every municipality's rows and door cells are on the organisation's sheet; the
                # sheet of one municipality (its own total and door) once a year.
                for scope in scopes if quarter[0] % 100 == 4 else scopes[:1]:
                    expected = await reference(conn, scope, *quarter, None)
                    got = await materialised(conn, scope, *quarter, None)
                    assert not mismatches(expected[0], got[0]), (quarter, scope.municipalities)
                    assert got == expected, (quarter, scope.municipalities)
                    if scope is whole:
                        sheets[quarter] = got[0]
            then = [q for q in QUARTERS if q[1] <= 202206]
            earlier = []
            for quarter in then:
                expected = await reference(conn, whole, *quarter, KNOWN_THEN)
                got = await materialised(conn, whole, *quarter, KNOWN_THEN)
                assert not mismatches(expected[0], got[0]), quarter
                assert got == expected, quarter
                earlier.append(got[0])
    finally:
        await engine.dispose()
    # Records came after the moment (late events, retractions, pending K5 outcomes decided), so the
    # as_of comparison is not of today's sheet again.
    assert any(sheet != sheets[q] for sheet, q in zip(earlier, then, strict=True))
    # Every KPI counted something: the organisation in every quarter, its largest municipality in
    # most, each municipality in some; the rates' mean stock everywhere.
    for code, share in ((kpis.TOTAL, 1.0), (LARGEST, 0.75), *((c, 0.1) for c in CODES)):
        for kpi in ("K1", "K2", "K3", "K4", "K5", "inflow_rate", "outflow_rate"):
            counted = [
                r["denominator"] or 0
                for q in QUARTERS
                for r in sheets[q]
                if (r["municipality"], r["kpi"]) == (code, kpi)
            ]
            assert len(counted) == len(QUARTERS), (code, kpi)
            least = len(QUARTERS) if kpi.endswith("rate") else len(QUARTERS) * share
            assert sum(1 for d in counted if d > 0) >= least, (code, kpi, counted)
