"""Client records as stored: each type's date and fields in their own columns, the fact itself
in the payload."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import TypeAdapter
from sqlalchemy import select

from reporting.samples import T0, record
from stroom_contract.codes import ClientStream, SanctionKind
from stroom_contract.facts import Assessment, ClientFact, CoachAssignment, PlanSent, ProgressReport, Sanction
from stroom_platform.db import make_engine
from stroom_reporting import tables as t
from stroom_reporting.repository import apply_facts

RETRACTED = datetime(2024, 6, 1, tzinfo=UTC)
# Non-ASCII, a line separator and a quote: the payload must be written as the contract writes them.
COACH = 'coach-é\u2028"x'


async def test_every_type_of_record_is_stored_in_its_columns(reporting_database: str) -> None:
    facts: list[ClientFact] = [
        Assessment(
            assessed_on=date(2024, 1, 1),
            ladder_step=3,
            target_step=5,
            client_stream=ClientStream.MEDIABLE,
            work_obligation_exempt=True,
        ),
        CoachAssignment(coach_ref=COACH, assigned_on=date(2024, 1, 2)),
        ProgressReport(recorded_on=date(2024, 1, 3)),
        PlanSent(plan_ref="plan-1", sent_on=date(2024, 1, 4), application_ref="application:src:a1"),
        Sanction(kind=SanctionKind.FINE, imposed_on=date(2024, 1, 5)),
    ]
    records = [record("c1", f"src|e{i}", fact) for i, fact in enumerate(facts)]
    records[-1] = records[-1].model_copy(update={"retracted_at": RETRACTED})
    engine = make_engine(reporting_database)
    try:
        async with engine.begin() as conn:
            await apply_facts(conn, records, datetime.now(UTC))
        async with engine.connect() as conn:
            stored = {
                row.record_id: row._asdict()
                for row in await conn.execute(select(t.client_records).order_by(t.client_records.c.record_id))
            }
    finally:
        await engine.dispose()
    common = {"client_ref": "c1", "revision": 1, "recorded_at": T0, "retracted_at": None}
    nothing = dict.fromkeys(
        ("ladder_step", "target_step", "client_stream", "work_obligation_exempt", "coach_ref")
    )
    expected = [
        {"type": "assessment", "on_date": date(2024, 1, 1), "ladder_step": 3, "target_step": 5}
        | {"client_stream": "mediable", "work_obligation_exempt": True, "coach_ref": None},
        {**nothing, "type": "coach_assignment", "on_date": date(2024, 1, 2), "coach_ref": COACH},
        {**nothing, "type": "progress_report", "on_date": date(2024, 1, 3)},
        {**nothing, "type": "plan", "on_date": date(2024, 1, 4)},
        {**nothing, "type": "sanction", "on_date": date(2024, 1, 5), "retracted_at": RETRACTED},
    ]
    adapter: TypeAdapter[ClientFact] = TypeAdapter(ClientFact)
    for i, (fact, fields) in enumerate(zip(facts, expected, strict=True)):
        row = stored[f"src|e{i}"]
        payload = row.pop("payload")
        # The contract's own JSON of the fact, byte for byte (non-ASCII, escapes, codes, dates).
        assert payload == adapter.dump_json(fact).decode()
        assert adapter.validate_json(payload) == fact
        assert row == {"record_id": f"src|e{i}", **common, **fields}
