"""A benefit's KPI cells restated from a moment equal those computed over its whole recorded time,
also when a record of its person changes after the benefit has ended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple

import pytest

from stroom_platform.organisations import load_organisations
from stroom_reporting import kpi_store
from stroom_reporting.kpi_store import EVER, Record, Since

ENTITY = "benefit:src:b1"
T0 = datetime(2023, 1, 1, tzinfo=UTC)


class SpellRow(NamedTuple):
    entity: str
    unit: str
    municipality: str
    regulation: str
    start_date: date
    end_date: date | None
    inflow_reason: str
    outflow_reason: str | None
    client_ref: str | None
    role: str | None
    birth_date: date | None
    recorded_from: datetime
    recorded_to: datetime | None


def spell_rows() -> list[SpellRow]:
    """A PW benefit from 2023-01-01, ended 2023-09-01, of one client aged 40; recorded as it ran."""
    start, end, born = date(2023, 1, 1), date(2023, 9, 1), date(1983, 5, 1)
    ended = T0 + timedelta(days=243)

    def version(end_date: date | None, since: datetime, until: datetime | None) -> list[SpellRow]:
        common = ("GM0405", "PW", start, end_date, "income", "employment" if end_date else None)
        return [
            SpellRow(ENTITY, "benefits", *common, None, None, None, since, until),
            SpellRow(ENTITY, "persons", *common, "c1", "applicant", born, since, until),
        ]

    return [*version(None, T0, ended), *version(end, ended, None)]


def record(key: str, stream: str, on: date, recorded: datetime) -> Record:
    return Record("c1", "assessment", on, recorded, None, f"src|{key}", stream, False, False)


EARLIER = [
    record("a1", "mediable", date(2023, 1, 10), T0 + timedelta(days=9)),
    record("a2", "care", date(2023, 4, 1), T0 + timedelta(days=90)),
]


def cells(records: list[Record], stored: list[tuple[object, ...]], since: Since) -> list[tuple[object, ...]]:
    spells = {ENTITY: spell_rows()}
    return sorted(
        kpi_store.benefit_cells(
            ENTITY, spells, {"c1": {ENTITY}}, {"c1": records}, load_organisations(), stored, since
        ),
        key=repr,
    )


@pytest.mark.parametrize(
    ("assessed_on", "changes"),
    [
        (date(2023, 10, 1), False),
        (date(2023, 12, 31), False),
        (date(2023, 6, 1), True),
        (date(2023, 8, 31), True),
    ],
)
def test_a_restate_from_a_new_record_equals_the_whole_recomputation(assessed_on: date, changes: bool) -> None:
    """A record dated on or after the end leaves every month end as it stood; one dated before it
    changes the cells from its month on."""
    stored = cells(EARLIER, [], Since(EVER, EVER))
    recorded = T0 + timedelta(days=400)
    records = [*EARLIER, record("a3", "mediable", assessed_on, recorded)]
    restated = cells(records, stored, Since(recorded, None))
    assert restated == cells(records, [], Since(EVER, EVER))
    assert (restated != stored) is changes


def test_a_restate_restates_at_least_one_part_from_its_earlier_moment() -> None:
    """A Since of neither part is refused (the cells read for it would start at no moment); of
    both, the cells are read from the earlier."""
    with pytest.raises(ValueError, match="ten minste één deel"):
        Since(None, None)
    later = T0 + timedelta(days=1)
    assert Since(later, T0).first == T0
    assert Since(T0, later).first == T0
    assert Since(None, later).first == later
    assert Since(later, None).first == later


def test_a_record_of_no_client_stream_reads_as_of_the_empty_one() -> None:
    """The stream a stored row leaves out is the empty one, as the KPIs read it."""
    row = SimpleNamespace(
        client_ref="c1",
        type="assessment",
        on_date=date(2023, 2, 1),
        recorded_at=T0,
        retracted_at=None,
        record_id="src|a",
        client_stream=None,
        work_obligation_exempt=None,
        payload=b"{}",
    )
    assert kpi_store.records_of([row]) == [
        Record("c1", "assessment", date(2023, 2, 1), T0, None, "src|a", "", False, False)
    ]
