"""Ledger and state tables on SQLite and PostgreSQL: shuffled, duplicated delivery equals the reference."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
from pydantic import TypeAdapter

from caseload import reference
from caseload.history import deliver, simulate
from caseload.integration.expectations import expected_key
from stroom_caseload.commands import migrate
from stroom_caseload.queries import CaseloadQueries
from stroom_caseload.service import apply_events
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.facts import Fact
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

MUNICIPALITIES = ["GM0405", "GM0420"]
FACT = TypeAdapter(Fact)


def month_ends(first: date, months: int) -> list[date]:
    ends = []
    for n in range(1, months + 1):
        year, month = first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1
        ends.append(date(year, month, 1).fromordinal(date(year, month, 1).toordinal() - 1))
    return ends


def expected_projection(raw: list[dict], municipality: str, on: date, as_of: datetime | None = None) -> dict:
    return reference.projection(raw, municipality, on, as_of)


def actual(projection) -> dict:  # type: ignore[no-untyped-def]
    result = {
        "benefits": projection.benefits,
        "persons": projection.persons,
        "placements": projection.placements,
        "open_applications": projection.open_applications,
        "trajectories": projection.trajectories,
        "coaches": projection.clients_per_coach(),
    }
    return {k: v for k, v in result.items() if v}


async def test_shuffled_duplicated_history_matches_the_reference(
    database_url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    await migrate(database_url)
    raw = simulate(MUNICIPALITIES, date(2022, 1, 1), months=14, seed=7)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    delivered = [validator.validate(e) for e in deliver(raw, seed=3)]
    engine = make_engine(database_url)
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
                    got = actual(await queries.projection(municipality, on))
                    assert got == {
                        k: v for k, v in expected_projection(raw, municipality, on).items() if v
                    }, (
                        municipality,
                        on,
                    )
            as_of = datetime(2022, 7, 1, tzinfo=UTC)
            for municipality in MUNICIPALITIES:
                on = date(2022, 5, 31)
                got = actual(await queries.projection(municipality, on, as_of))
                expected = {k: v for k, v in expected_projection(raw, municipality, on, as_of).items() if v}
                assert got == expected
    finally:
        await engine.dispose()
    assert any(p["kind"] == "benefit" for p in published.values())
    assert any(p.get("retracted_at") for p in published.values())
