"""A benefit's KPI cells restated from a moment equal those computed over its whole recorded time,
also when a record of its person changes after the benefit has ended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_platform.organisations import load_organisations
from stroom_reporting import kpi_store
from stroom_reporting.domain import kpi_cells
from stroom_reporting.domain.months import last_day, month_of
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


ORGANISATIONS = load_organisations()


@st.composite
def late_records(draw: st.DrawFn) -> tuple[list[Record], datetime, list[Record], set[str]]:
    """A client's assessments and progress reports recorded one after another from T0, some
    retracted, then at `late` late ones (dated before, between or after the others), retractions
    of earlier ones, and retractions taken back (their rows replaced): (the records known before
    `late`, `late`, every record as known after it, the ids of the rows replaced)."""
    kinds = st.sampled_from(["assessment", "progress_report"])
    streams = st.sampled_from(["mediable", "care", "other"])
    days = st.dates(date(2022, 6, 1), date(2025, 12, 31))
    # A report of a month's last day is current at a month end a year on: the furthest one reaches.
    days = st.one_of(days, days.map(lambda day: last_day(month_of(day))))
    drawn = draw(st.lists(st.tuples(kinds, days, streams, st.booleans(), st.booleans()), max_size=8))
    late = T0 + timedelta(days=len(drawn) + 1)
    known, records, replaced = [], [], set()
    for index, (kind, on, stream, exempt, long_trajectory) in enumerate(drawn):
        recorded = T0 + timedelta(days=index, hours=draw(st.integers(0, 23)))
        r = Record(
            "c1",
            kind,
            on,
            recorded,
            None,
            f"src|r{index}",
            stream if kind == "assessment" else "",
            exempt and kind == "assessment",
            long_trajectory and kind == "progress_report",
        )
        match draw(st.sampled_from(["known", "late", "retracted", "retracted late", "taken back"])):
            case "known":
                known.append(r)
                records.append(r)
            case "late":
                records.append(r._replace(recorded_at=late))
            case "retracted":
                known.append(r := r._replace(retracted_at=recorded + timedelta(hours=1)))
                records.append(r)
            case "retracted late":
                known.append(r)
                records.append(r._replace(retracted_at=late))
            case "taken back":
                known.append(r._replace(retracted_at=recorded + timedelta(hours=1)))
                records.append(r)
                replaced.add(r.record_id)
    return known, late, records, replaced


def standing_reference(spells: list[SpellRow], records: list[Record]) -> list[tuple[object, ...]]:
    """The benefit's month-end count cells over recorded time, each moment computed from scratch
    from the rows valid and the records visible then."""
    times = [t for r in spells for t in (r.recorded_from, r.recorded_to) if t]
    times += [t for r in records for t in (r.recorded_at, r.retracted_at) if t]

    def cells_at(at: datetime) -> tuple[kpi_cells.Cell, ...]:
        rows = [r for r in spells if r.recorded_from <= at and (r.recorded_to is None or r.recorded_to > at)]
        found = kpi_store.benefits_of(rows)
        visible = [
            r for r in records if r.recorded_at <= at and (r.retracted_at is None or r.retracted_at > at)
        ]
        return kpi_cells.benefit_cells(found[0], kpi_store.client_file(visible), None) if found else ()

    cells = kpi_cells.over_recorded_time(times, cells_at)
    return sorted(((ENTITY, *cell, since, until) for cell, since, until in cells), key=repr)


@settings(max_examples=300, deadline=None)
@given(
    late_records(), st.dates(date(1962, 1, 1), date(1990, 1, 1)), st.sampled_from([None, date(2024, 5, 20)])
)
def test_a_restate_from_late_records_and_retractions_equals_the_reference(
    drawn: tuple[list[Record], datetime, list[Record], set[str]], born: date, end: date | None
) -> None:
    """A restate from the moment late records and retractions came (a replaced row's: from its
    own), over the cells stored before, equals the cells computed from scratch at every recorded
    moment: a late record moves the month ends from its day up to its client's next of its kind
    (a progress report's up to a year on), wherever it falls among the others."""
    known, late, records, replaced = drawn
    outflow = "employment" if end else None
    spells = [
        r._replace(
            end_date=end, outflow_reason=outflow, birth_date=born if r.role else None, recorded_to=None
        )
        for r in spell_rows()[:2]
    ]

    def restated(
        records: list[Record], stored: list[tuple[object, ...]], since: datetime, revised: set[str]
    ) -> list[tuple[object, ...]]:
        found = kpi_store.benefit_cells(
            ENTITY,
            {ENTITY: spells},
            {"c1": {ENTITY}},
            {"c1": records},
            ORGANISATIONS,
            stored,
            Since(since, None),
            replaced,
        )
        return sorted(found, key=repr)

    stored = restated(known, [], EVER, set())
    assert stored == standing_reference(spells, known)
    since = min([late, *(r.recorded_at for r in records if r.record_id in replaced)])
    assert restated(records, stored, since, replaced) == standing_reference(spells, records)
