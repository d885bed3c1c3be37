"""The KPI sheet summed from cells equals the KPIs recomputed from the benefits, on random histories."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.unit.test_kpis import (
    CLIENTS,
    DAYS,
    T1,
    TIMES,
    assessments,
    benefit,
    benefits,
    membership,
    progress,
)
from stroom_reporting.domain import kpi_cells, kpis
from stroom_reporting.domain.months import first_day, last_day, month_of, month_range

SCOPES = ({"GM0405"}, {"GM0420"}, {"GM0405", "GM0420"})


def summed(cells: list[kpi_cells.Cell], municipalities: set[str]) -> kpi_cells.Sums:
    sums: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in cells:
        if c.municipality in municipalities:
            sums[(c.measure, c.month, c.detail)][0] += c.a
            sums[(c.measure, c.month, c.detail)][1] += c.b
    by_measure: kpi_cells.Sums = defaultdict(dict)
    for (measure, month, detail), (a, b) in sums.items():
        by_measure[measure][(month, detail)] = (a, b)
    return by_measure


@settings(max_examples=300)
@given(
    benefits,
    assessments,
    progress,
    st.dates(date(2024, 7, 1), date(2026, 1, 1)),
    st.sampled_from([202406, 202412, 202503]),
)
def test_cells_sum_to_the_recomputed_figures(
    bs: tuple, assessed: list, reports: list, report_day: date, last: int
) -> None:
    clients = kpis.ClientFile.of(assessed, reports)
    returns = kpis.Returns(bs)
    first = last - 5 if last % 100 > 5 else last - 100 + 7
    counts = kpis.month_ends(bs, min(first, kpis.rate_months(last)[0]), last, clients)
    cells = [c for b in bs for c in kpi_cells.benefit_cells(b, clients, returns)]
    lead_days = [3, 9, 4]
    plans = [kpi_cells.Cell(kpi_cells.K3, "GM0405", first, str(d), 1, d) for d in lead_days]
    for scope in SCOPES:
        expected = kpis.figures(
            [b for b in bs if b.municipality in scope],
            lead_days if "GM0405" in scope else [],
            first,
            last,
            clients,
            returns,
            report_day,
            counts,
            scope,
        )
        started, ended, stock = kpis.rate_counts(
            [b for b in bs if b.municipality in scope], last, counts, scope
        )
        got = kpis.figures_of(
            kpi_cells.sheet_counts(
                summed(cells + plans, scope), first, last, report_day, started, ended, stock
            )
        )
        assert got == expected
        # The door, a cell per outflow with a return within 12 months.
        door: dict[tuple[str, str, str, int], int] = defaultdict(int)
        for c in cells:
            if c.measure == kpi_cells.DOOR and c.municipality in scope and first <= c.month <= last:
                outflow, inflow = c.detail.split("|")
                door[(c.municipality, outflow, inflow, 12)] += c.b
                if c.a:
                    door[(c.municipality, outflow, inflow, 6)] += c.a
        expected_door = kpis.revolving_door(
            [b for b in bs if b.municipality in scope], first_day(first), last_day(last), returns
        )
        assert dict(door) == dict(expected_door)


@given(st.sampled_from(month_range(202011, 202602)), st.sampled_from(month_range(202011, 202602)))
def test_year_spans_cover_the_months_once_with_whole_years(first: int, last: int) -> None:
    (head_first, head_last), (first_year, last_year), (tail_first, tail_last) = kpi_cells.year_spans(
        first, last
    )
    years = [
        m for year in range(first_year, last_year + 1) for m in month_range(year * 100 + 1, year * 100 + 12)
    ]
    spans = month_range(head_first, head_last) + years + month_range(tail_first, tail_last)
    assert spans == month_range(first, last)
    # No whole year of the months is left to months before or after the years.
    for months in (month_range(head_first, head_last), month_range(tail_first, tail_last)):
        assert not any(m % 100 == 1 and m + 11 in months for m in months)


def test_a_report_stops_being_current_a_month_after_the_month_it_still_was() -> None:
    # Reported on 31 January: still current on 30 April (3 months before: 30 January), not on 31 May.
    member = kpis.Member("c1", date(2023, 1, 1), None, True, date(1980, 1, 1))
    b = kpis.KpiBenefit("benefit:s:1", "GM0405", "PW", date(2023, 1, 1), None, "moved_in", None, (member,))
    clients = kpis.ClientFile.of(
        [("c1", date(2023, 1, 1), T1, "a", "mediable", False)], [("c1", date(2024, 1, 31), T1, "r", False)]
    )
    sums = summed(list(kpi_cells.benefit_cells(b, clients, kpis.Returns([b]))), {"GM0405"})
    currents = kpi_cells.month_end_counts(sums, kpi_cells.K2, [202401, 202404, 202405, 202412])
    assert currents == {202401: (1, 1), 202404: (1, 1), 202405: (1, 0), 202412: (1, 0)}


def standings(cells: Iterable[kpi_cells.Cell], months: Iterable[int]) -> dict[int, kpis.Standing]:
    """A benefit's standing at the months' ends, read back from its P, K1 and K2 cells (their changes)."""
    read = (kpi_cells.P, kpi_cells.K1, kpi_cells.K2)
    changes = sorted((c.month, c.measure, c.a, c.b) for c in cells if c.measure in read)
    result = {}
    population = k1 = mediable = current = index = 0
    for month in sorted(months):
        while index < len(changes) and changes[index][0] <= month:
            _, measure, a, b = changes[index]
            if measure == kpi_cells.P:
                population += a
            elif measure == kpi_cells.K1:
                k1 += a
            else:
                mediable, current = mediable + a, current + b
            index += 1
        result[month] = kpis.Standing(bool(population), bool(k1), bool(mediable), bool(current))
    return result


def test_a_report_is_current_again_for_a_year_once_its_client_turns_60() -> None:
    # Reported on 31 January 2024 by a client turning 60 on 15 June: stale at the end of May (3
    # months), current again from June (12 months) to January 2025, stale at the end of February.
    member = kpis.Member("c1", date(2023, 1, 1), None, True, date(1964, 6, 15))
    b = kpis.KpiBenefit("benefit:s:1", "GM0405", "PW", date(2023, 1, 1), None, "moved_in", None, (member,))
    clients = kpis.ClientFile.of(
        [("c1", date(2023, 1, 1), T1, "a", "mediable", False)], [("c1", date(2024, 1, 31), T1, "r", False)]
    )
    months = [202404, 202405, 202406, 202501, 202502]
    read = standings(kpi_cells.benefit_cells(b, clients, None), months)
    assert [read[m].current for m in months] == [True, False, True, True, False]


def test_a_client_born_on_29_february_leaves_k1_when_60_also_in_a_year_without_one() -> None:
    # Born 29 February 2040: 2100 has no 29 February, so at the end of February 2100 the client is
    # still 59 (in K1) and at the end of March 60 (out of it).
    member = kpis.Member("c1", date(2099, 1, 1), None, True, date(2040, 2, 29))
    b = kpis.KpiBenefit("benefit:s:1", "GM0405", "PW", date(2099, 1, 1), None, "moved_in", None, (member,))
    clients = kpis.ClientFile.of([], [])
    months = month_range(209901, 210012)
    read = standings(kpi_cells.benefit_cells(b, clients, None), months)
    assert [read[m].k1 for m in (210001, 210002, 210003)] == [True, True, False]
    assert read == {m: kpis.standing(b, last_day(m), clients) for m in months}


@settings(max_examples=300)
@given(benefit(0), assessments, progress)
def test_the_standings_read_back_from_the_cells_are_the_benefits(
    b: kpis.KpiBenefit, assessed: list, reports: list
) -> None:
    clients = kpis.ClientFile.of(assessed, reports)
    months = month_range(month_of(b.start_date), 202712)
    read = standings(kpi_cells.benefit_cells(b, clients, None), months)
    assert read == {m: kpis.standing(b, last_day(m), clients) for m in months}


@st.composite
def another_version(draw: st.DrawFn, old: kpis.KpiBenefit) -> kpis.KpiBenefit:
    """A later version of the benefit: another end, a member leaving at another day, one more member;
    or, now and then, any benefit at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(benefit(0))
    new = old
    if draw(st.booleans()):
        new = new._replace(end_date=draw(st.one_of(st.none(), st.dates(old.start_date, date(2026, 6, 30)))))
    members = list(new.members)
    if draw(st.booleans()):
        index = draw(st.integers(0, len(members) - 1))
        joined = members[index].joined
        left = draw(st.one_of(st.none(), st.dates(joined + timedelta(days=1), date(2026, 6, 30))))
        members[index] = members[index]._replace(left=left)
    if draw(st.booleans()):
        members.append(draw(membership(old.start_date, new.end_date, draw(st.booleans()))))
    return new._replace(members=tuple(members))


@settings(max_examples=500)
@given(benefit(0).flatmap(lambda old: st.tuples(st.just(old), another_version(old))), assessments, progress)
def test_a_new_version_stands_as_the_old_one_before_the_first_day_it_changes(
    versions: tuple[kpis.KpiBenefit, kpis.KpiBenefit], assessed: list, reports: list
) -> None:
    old, new = versions
    clients = kpis.ClientFile.of(assessed, reports)
    kept = kpis.standing_kept_before(old, new)
    for month in month_range(month_of(min(old.start_date, new.start_date)), 202712):
        if last_day(month) < kept:
            assert kpis.standing(old, last_day(month), clients) == kpis.standing(
                new, last_day(month), clients
            )
    if old == new:
        assert kept == date.max


@given(st.lists(st.integers(-5, 400), min_size=1))
def test_the_median_of_counted_values_is_the_median_of_the_values(values: list[int]) -> None:
    counts = Counter(values)
    counts[999] = 0  # a key summed to nothing is not a value
    assert kpis.median_of(counts) == statistics.median(values)


@given(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.dates(date(2019, 1, 1), date(2030, 1, 1)))
def test_an_outflow_is_pending_as_the_date_it_is_summed_onto(report_day: date, end: date) -> None:
    decided, pending = kpi_cells.k5_details(report_day)
    onto = pending if end.isoformat() > decided else decided
    assert kpis.k5_pending(date.fromisoformat(onto), report_day) == kpis.k5_pending(end, report_day)
    assert kpis.k5_pending(end, report_day) == (end + timedelta(days=kpis.SIX_MONTHS) > report_day)


NEW_ASSESSMENT = st.tuples(
    st.sampled_from(CLIENTS),
    DAYS,
    TIMES,
    st.just("new"),
    st.sampled_from(["mediable", "developable", "care"]),
    st.booleans(),
)


@settings(max_examples=500)
@given(benefit(0), assessments, progress, NEW_ASSESSMENT)
def test_an_assessment_that_reads_as_the_one_before_it_changes_no_cell(
    b: kpis.KpiBenefit, assessed: list, reports: list, new: tuple
) -> None:
    client = new[0]

    def theirs(items: list) -> list[kpi_cells.Assessed]:
        return sorted(
            (day, at, record, stream, exempt) for c, day, at, record, stream, exempt in items if c == client
        )

    before = kpi_cells.benefit_cells(b, kpis.ClientFile.of(assessed, reports), None)
    after = kpi_cells.benefit_cells(b, kpis.ClientFile.of([*assessed, new], reports), None)
    assert before == after or not kpi_cells.assessments_alike(theirs(assessed), theirs([*assessed, new]))


def test_assessments_read_alike_as_long_as_each_reads_as_the_one_before() -> None:
    def assessed(*items: tuple[date, str, bool]) -> list[kpi_cells.Assessed]:
        return [(day, T1, f"r{i}", stream, exempt) for i, (day, stream, exempt) in enumerate(items)]

    first, later = date(2024, 1, 5), date(2024, 6, 1)
    mediable = assessed((first, "mediable", False))
    assert kpi_cells.assessments_alike(
        mediable, assessed((first, "mediable", False), (later, "mediable", False))
    )
    # Care and exempt both keep the client out of P; exempt, a mediable client is not one for K2.
    care = assessed((first, "care", False))
    assert kpi_cells.assessments_alike(care, assessed((first, "care", False), (later, "mediable", True)))
    # A developable client reads as one not assessed.
    assert kpi_cells.assessments_alike([], assessed((first, "developable", False)))
    assert not kpi_cells.assessments_alike(
        mediable, assessed((first, "mediable", False), (later, "care", False))
    )
    assert not kpi_cells.assessments_alike([], mediable)
    assert not kpi_cells.assessments_alike(mediable, assessed((later, "mediable", False)))
