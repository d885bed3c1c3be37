"""Ledger and state tables on SQLite and PostgreSQL: shuffled, duplicated delivery equals the reference."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from caseload.history import deliver, simulate
from caseload.integration.expectations import FACT, as_dict, expected, expected_key, month_ends
from stroom_caseload.queries import CaseloadQueries
from stroom_caseload.service import apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

MUNICIPALITIES = ["GM0405", "GM0420"]


async def test_shuffled_duplicated_history_matches_the_reference(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    raw = simulate(MUNICIPALITIES, date(2022, 1, 1), months=14, seed=7)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    delivered = [validator.validate(e) for e in deliver(raw, seed=3)]
    engine = make_engine(caseload_database)
    published: dict[str, dict] = {}
    try:
        for i in range(0, len(delivered), 40):
            async with engine.begin() as conn:
                applied = await apply_events(conn, delivered[i : i + 40])
            for out in applied.facts:
                fact = FACT.validate_json(out.value)
                assert out.key == expected_key(fact)
                ident = getattr(fact, "record_id", fact.entity)
                if ident not in published or published[ident]["revision"] <= fact.revision:
                    published[ident] = orjson.loads(out.value)
        async with engine.connect() as conn:
            queries = CaseloadQueries(conn)
            for municipality in MUNICIPALITIES:
                for on in month_ends(date(2022, 1, 1), 14):
                    got = as_dict(await queries.projection(municipality, on))
                    assert got == expected(raw, municipality, on), (municipality, on)
            as_of = datetime(2022, 7, 1, tzinfo=UTC)
            for municipality in MUNICIPALITIES:
                on = date(2022, 5, 31)
                got = as_dict(await queries.projection(municipality, on, as_of))
                assert got == expected(raw, municipality, on, as_of)
    finally:
        await engine.dispose()
    assert any(p["kind"] == "benefit" for p in published.values())
    assert any(p.get("retracted_at") for p in published.values())
