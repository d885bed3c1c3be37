"""KPIs (report 8) against an independent reference written from the wording of reports-v1."""

from __future__ import annotations

import calendar
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_reporting.domain import kpi_cells, kpis

CLIENTS = [f"c{i}" for i in range(6)]
DAYS = st.dates(date(2022, 1, 1), date(2025, 6, 30))


T1, T2 = datetime(2025, 1, 1, 9, tzinfo=UTC), datetime(2025, 1, 1, 17, tzinfo=UTC)
BIRTHS = st.dates(date(1955, 1, 1), date(2004, 12, 31))
TIMES = st.sampled_from([T1, T2])


@st.composite
def membership(draw: st.DrawFn, start: date, end: date | None, applicant: bool) -> kpis.Member:
    """A member of a benefit from `start` to `end`: joined on its start or later, some leaving early."""
    joined = start if applicant else draw(st.dates(start, start + timedelta(days=200)))
    left = draw(st.one_of(st.none(), st.dates(joined + timedelta(days=1), joined + timedelta(days=400))))
    if end is not None:
        joined = min(joined, end)
        left = end if left is None else min(left, end)
    return kpis.Member(draw(st.sampled_from(CLIENTS)), joined, left, applicant, draw(BIRTHS))


@st.composite
def benefit(draw: st.DrawFn, index: int) -> kpis.KpiBenefit:
    start = draw(DAYS)
    end = draw(st.one_of(st.none(), st.dates(start, start + timedelta(days=700))))
    # Mostly an applicant who stays; sometimes one who leaves, a partner, a second applicant, none.
    first = draw(membership(start, end, draw(st.integers(0, 9)) > 0))
    if draw(st.booleans()):
        first = first._replace(left=end)
    members = [first]
    if draw(st.booleans()):
        members.append(draw(membership(start, end, draw(st.integers(0, 4)) == 0)))
    return kpis.KpiBenefit(
        f"benefit:s:{index}",
        draw(st.sampled_from(["GM0405", "GM0420"])),
        draw(st.sampled_from(["PW", "IOAW", "IOAZ", "BBZ"])),
        start,
        end,
        draw(st.sampled_from(["moved_in", "employment_ended"])),
        draw(st.sampled_from(["employment", "self_employment", "education_with_student_finance", "deceased"]))
        if end
        else None,
        tuple(members),
    )


benefits = st.integers(0, 14).flatmap(lambda n: st.tuples(*(benefit(i) for i in range(n))))
assessments = st.lists(
    st.tuples(
        st.sampled_from(CLIENTS),
        DAYS,
        TIMES,
        st.text("ab", min_size=1, max_size=2),
        st.sampled_from(["mediable", "developable", "care"]),
        st.booleans(),
    ),
    max_size=12,
    unique_by=lambda a: a[3],  # record ids are unique
)
progress = st.lists(
    st.tuples(st.sampled_from(CLIENTS), DAYS, TIMES, st.text("ab", min_size=1, max_size=2), st.booleans()),
    max_size=12,
    unique_by=lambda p: p[3],
)


# The reference: straight from the spec's sentences, nothing shared with the implementation.
def latest(items: list[tuple], client: str, day: date) -> tuple | None:
    """The latest record on or before the day: latest date; the same day, the one recorded last
    (time, then id)."""
    candidates = [i for i in items if i[0] == client and i[1] <= day]
    return max(candidates, key=lambda i: (i[1], i[2], i[3])) if candidates else None


def aged_60(born: date, day: date) -> bool:
    try:
        birthday = born.replace(year=born.year + 60)
    except ValueError:  # born on 29 February
        birthday = date(born.year + 60, 3, 1)
    return day >= birthday


def active(b: kpis.KpiBenefit, day: date) -> bool:
    return b.start_date <= day and (b.end_date is None or b.end_date > day)


def the_applicant(b: kpis.KpiBenefit, day: date) -> kpis.Member | None:
    """The member with role applicant while a member on D; when they have left, the
    longest-standing remaining member (at most one person per benefit)."""
    members = [m for m in b.members if m.joined <= day and (m.left is None or m.left > day)]
    applicants = [m for m in members if m.applicant]
    candidates = applicants or members
    if not candidates:
        return None
    earliest = min(m.joined for m in candidates)
    return min((m for m in candidates if m.joined == earliest), key=lambda m: m.client_ref)


def population(bs: tuple, day: date, assessed: list[tuple]) -> list[tuple[kpis.KpiBenefit, kpis.Member]]:
    result = []
    for b in bs:
        if b.regulation not in ("PW", "IOAW", "IOAZ") or not active(b, day):
            continue
        person = the_applicant(b, day)
        if person is None:
            continue
        a = latest(assessed, person.client_ref, day)
        if a is None or (a[4] != "care" and not a[5]):
            result.append((b, person))
    return result


def minus_months(day: date, months: int) -> date:
    year, month = day.year, day.month - months
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_ends(first: date, last: date) -> list[date]:
    ends, year, month = [], first.year, first.month
    while date(year, month, 1) <= last:
        ends.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def came_back(bs: tuple, b: kpis.KpiBenefit, days: int) -> tuple[date, str, str] | None:
    at_end = {m.client_ref for m in b.members if m.left is None or m.left >= b.end_date}
    joins = [
        (m.joined, other.entity, other.inflow_reason)
        for other in bs
        if other.entity != b.entity
        for m in other.members
        if m.client_ref in at_end and b.end_date <= m.joined <= b.end_date + timedelta(days=days)
    ]
    return min(joins) if joins else None


def pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@settings(max_examples=300)
@given(benefits, assessments, progress, st.dates(date(2024, 7, 1), date(2026, 1, 1)))
def test_figures_equal_the_reference(bs: tuple, assessed: list, reports: list, report_day: date) -> None:
    clients = kpis.ClientFile.of(assessed, reports)
    first, last = date(2024, 1, 1), date(2024, 6, 30)
    counts = kpis.month_ends(bs, 202307, 202406, clients)
    scope = {"GM0405", "GM0420"}
    got = kpis.figures(
        list(bs), [3, 9, 4], 202401, 202406, clients, kpis.Returns(bs), report_day, counts, scope
    )

    pop = population(bs, last, assessed)
    durations = [(last - b.start_date).days for b, person in pop if not aged_60(person.birth_date, last)]
    assert (got.k1_days, got.k1_basis) == (
        round(statistics.fmean(durations), 1) if durations else None,
        len(durations),
    )

    mediable = [p for _, p in pop if (latest(assessed, p.client_ref, last) or ())[4:5] == ("mediable",)]
    current = 0
    for person in mediable:
        report = latest(reports, person.client_ref, last)
        if report is not None:
            months = 12 if report[4] or aged_60(person.birth_date, last) else 3
            current += report[1] >= minus_months(last, months)
    assert (got.k2_pct, got.k2_basis) == (pct(current, len(mediable)), len(mediable))

    assert (got.k3_mean_days, got.k3_median_days, got.k3_basis) == (5.3, 4.0, 3)

    ended = [b for b in bs if b.end_date and first <= b.end_date <= last]
    to_work_or_school = [
        b
        for b in ended
        if b.regulation != "BBZ"
        and b.outflow_reason in ("employment", "self_employment", "education_with_student_finance")
    ]
    mean_clients = statistics.fmean(len(population(bs, end, assessed)) for end in month_ends(first, last))
    assert (got.k4_pct, got.k4_outflow) == (pct(len(to_work_or_school), mean_clients), len(to_work_or_school))

    # PW, IOAW and IOAZ only, as every KPI measure (reports-v1).
    to_work = [
        b for b in ended if b.regulation != "BBZ" and b.outflow_reason in ("employment", "self_employment")
    ]
    pending = [b for b in to_work if b.end_date + timedelta(days=183) > report_day]
    decided = [b for b in to_work if b not in pending]
    stayed = [b for b in decided if came_back(bs, b, 183) is None]
    assert (got.k5_pct, got.k5_decided, got.k5_pending) == (
        pct(len(stayed), len(decided)),
        len(decided),
        len(pending),
    )

    year = [b for b in bs if b.regulation != "BBZ"]
    ends = month_ends(date(2023, 7, 1), last)
    stock = statistics.fmean(sum(active(b, end) for b in year) for end in ends)
    started = sum(date(2023, 7, 1) <= b.start_date <= last for b in year)
    stopped = sum(b.end_date is not None and date(2023, 7, 1) <= b.end_date <= last for b in year)
    assert (got.inflow_pct, got.outflow_pct) == (pct(started, stock), pct(stopped, stock))


@settings(max_examples=200)
@given(benefits)
def test_revolving_door_equals_the_reference(bs: tuple) -> None:
    first, last = date(2024, 1, 1), date(2024, 12, 31)
    expected: Counter[tuple[str, str, str, int]] = Counter()
    for b in bs:
        if b.end_date is None or not first <= b.end_date <= last or b.regulation == "BBZ":
            continue
        back = came_back(bs, b, 365)
        if back is not None:
            expected[(b.municipality, b.outflow_reason, back[2], 12)] += 1
            if back[0] <= b.end_date + timedelta(days=183):
                expected[(b.municipality, b.outflow_reason, back[2], 6)] += 1
    assert kpis.revolving_door(bs, first, last, kpis.Returns(bs)) == expected


def test_lead_times_link_the_named_application_else_the_latest_before() -> None:
    applications = [
        kpis.Application("application:s:a1", "c1", "GM0405", date(2024, 1, 10)),
        kpis.Application("application:s:a2", "c1", "GM0420", date(2024, 2, 1)),
        kpis.Application("application:s:a3", "c1", "GM0420", date(2024, 5, 1)),
    ]
    plans = [
        kpis.Plan("plan:s:1", "c1", date(2024, 3, 1), "application:s:a1"),  # named: 51 days, Hoorn
        kpis.Plan("plan:s:2", "c1", date(2024, 3, 1), None),  # latest on or before: a2, 29 days
        kpis.Plan("plan:s:3", "c1", date(2024, 3, 1), "application:s:gone"),  # unknown name: also a2
        kpis.Plan("plan:s:4", "c2", date(2024, 3, 1), None),  # no application at all: left out
        kpis.Plan("plan:s:5", "c1", date(2024, 7, 1), None),  # sent after the period
    ]
    got = kpis.lead_times(plans, applications, date(2024, 1, 1), date(2024, 6, 30))
    assert [(t.plan.ref, t.application.entity, t.days) for t in got] == [
        ("plan:s:1", "application:s:a1", 51),
        ("plan:s:2", "application:s:a2", 29),
        ("plan:s:3", "application:s:a2", 29),
    ]


def test_norms() -> None:
    assert kpis.lower_by(90.0, 100.0, 10) == kpis.Assessment(90.0, True)
    assert kpis.lower_by(90.1, 100.0, 10) == kpis.Assessment(90.0, False)
    assert kpis.lower_by(50.0, None, 10) == kpis.Assessment(None, None)
    assert kpis.lower_by(None, 100.0, 10) == kpis.Assessment(90.0, None)
    assert kpis.at_least(85.0, 85.0) == kpis.Assessment(85.0, True)
    assert kpis.at_least(84.9, 85.0) == kpis.Assessment(85.0, False)
    assert kpis.at_least(84.9, None) == kpis.Assessment(None, None)


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.integers(0, 24))
def test_months_before(day: date, months: int) -> None:
    assert kpis.months_before(day, months) == minus_months(day, months)


def _benefit(
    entity: str,
    start: date,
    end: date | None,
    client: str,
    reason: str | None = None,
    *others: kpis.Member,
    regulation: str = "PW",
) -> kpis.KpiBenefit:
    applicant = kpis.Member(client, start, end, True, date(1980, 1, 1))
    return kpis.KpiBenefit(entity, "GM0405", regulation, start, end, "moved_in", reason, (applicant, *others))


def test_edges_of_six_months_and_of_a_current_report() -> None:
    end = date(2024, 3, 1)
    bs = [
        _benefit("b:1", date(2023, 1, 1), end, "back-on-day-183", "employment"),
        _benefit("b:2", end + timedelta(days=183), None, "back-on-day-183"),
        _benefit("b:3", date(2023, 1, 1), end, "back-on-day-184", "employment"),
        _benefit("b:4", end + timedelta(days=184), None, "back-on-day-184"),
        _benefit("b:5", date(2023, 1, 1), end, "back-the-same-day", "employment"),
        _benefit("b:6", end, None, "back-the-same-day"),
    ]
    returns = kpis.Returns(bs)
    assert kpis.k5(bs, date(2024, 1, 1), date(2024, 6, 30), date(2025, 1, 1), returns) == (33.3, 3, 0)
    assert kpis.k5(bs, date(2024, 1, 1), date(2024, 6, 30), end + timedelta(days=182), returns) == (
        None,
        0,
        3,
    )
    day = date(2024, 6, 30)
    active = [_benefit("b:7", date(2024, 1, 1), None, "c1"), _benefit("b:8", date(2024, 1, 1), None, "c2")]
    assessed = [(c, date(2024, 1, 1), T1, "r", "mediable", False) for c in ("c1", "c2")]
    reports = [("c1", date(2024, 3, 30), T1, "p1", False), ("c2", date(2024, 3, 29), T1, "p2", False)]
    assert kpis.k2(active, day, kpis.ClientFile.of(assessed, reports)) == (50.0, 2)
    long = [("c1", date(2024, 3, 30), T1, "p1", False), ("c2", date(2023, 6, 30), T1, "p2", True)]
    assert kpis.k2(active, day, kpis.ClientFile.of(assessed, long)) == (100.0, 2)


def test_norms_are_decided_on_unrounded_values() -> None:
    k2 = kpis.Ratio(8496, 10000, True)
    assert k2.value is not None
    assert round(k2.value, 1) == 85.0
    assert kpis.at_least(k2.value, 85.0) == kpis.Assessment(85.0, False)
    assert kpis.at_least(kpis.Ratio(85, 100, True).value, 85.0).met is True
    # 10 % below 100.05 is 90.045: shown as 90.0, and 90.04 meets it.
    assert kpis.lower_by(90.04, 100.05, 10) == kpis.Assessment(90.0, True)
    assert kpis.lower_by(90.05, 100.05, 10).met is False
    assert kpis.Ratio(3, 0, True).value is None


def test_an_applicant_who_left_is_replaced_by_the_longest_standing_member() -> None:
    partner = kpis.Member("partner", date(2023, 2, 1), None, False, date(1960, 1, 1))
    child = kpis.Member("child", date(2023, 1, 15), date(2024, 6, 1), False, date(2005, 1, 1))
    later = kpis.Member("later", date(2023, 6, 1), None, False, date(1990, 1, 1))
    b = _benefit("b:1", date(2023, 1, 1), None, "applicant", None, partner, child, later)
    b = b._replace(members=(b.members[0]._replace(left=date(2024, 3, 1)), *b.members[1:]))
    assert [kpis.person_on(b, day).client_ref for day in (date(2024, 2, 29), date(2024, 3, 1))] == [
        "applicant",
        "child",  # joined on 15 January 2023, before the partner
    ]
    assert kpis.person_on(b, date(2024, 6, 1)).client_ref == "partner"
    nobody = kpis.ClientFile.of([], [])
    # One person per benefit, whoever it is; the partner is 64 on 30 June 2024: out of K1.
    day = date(2024, 6, 30)
    assert kpis.k1([b], day, nobody) == (None, 0)
    care = kpis.ClientFile.of([("partner", date(2024, 4, 1), T1, "r", "care", False)], [])
    assert [kpis.in_population(b, d, care) for d in (date(2024, 3, 31), date(2024, 5, 31), day)] == [
        True,
        True,  # the child stands for the benefit in May, not the partner who is a care client
        False,
    ]
    ends = kpis.MonthEnds.of_changes(population_changes([b], care, 202403), (), [202403, 202404, 202406])
    assert [ends.population[m]["GM0405"] for m in (202403, 202404, 202406)] == [1, 1, 0]
    # A benefit whose members all left contributes nobody.
    gone = _benefit("b:2", date(2023, 1, 1), None, "gone")._replace(
        members=(kpis.Member("gone", date(2023, 1, 1), date(2024, 1, 1), True, None),)
    )
    assert kpis.person_on(gone, day) is None
    assert not kpis.in_population(gone, day, nobody)


def test_the_latest_assessment_of_a_day_is_the_one_recorded_last() -> None:
    day = date(2024, 6, 30)
    b = _benefit("b:1", date(2024, 1, 1), None, "c1")
    by_time = [
        ("c1", date(2024, 5, 1), T2, "a", "mediable", False),  # recorded last: counts
        ("c1", date(2024, 5, 1), T1, "z", "care", False),
    ]
    assert kpis.in_population(b, day, kpis.ClientFile.of(by_time, []))
    by_id = [
        ("c1", date(2024, 5, 1), T1, "a", "mediable", False),
        ("c1", date(2024, 5, 1), T1, "z", "care", False),  # the same time: the greatest id counts
    ]
    assert not kpis.in_population(b, day, kpis.ClientFile.of(by_id, []))
    # A later day beats both, whenever it was recorded.
    later = [*by_id, ("c1", date(2024, 5, 2), T1, "0", "mediable", False)]
    assert kpis.in_population(b, day, kpis.ClientFile.of(later, []))


def test_joining_another_benefit_as_a_member_is_a_return_for_k5() -> None:
    end = date(2024, 3, 1)
    first, last, report_day = date(2024, 1, 1), date(2024, 6, 30), date(2025, 1, 1)

    def joining(entity: str, days: int) -> kpis.KpiBenefit:
        member = kpis.Member("c1", end + timedelta(days=days), None, False, None)
        return _benefit(entity, date(2020, 1, 1), None, "other", None, member)

    left = _benefit("b:1", date(2023, 1, 1), end, "c1", "employment")
    for days, outcome in ((183, kpis.RETURNED), (184, kpis.SUSTAINED)):
        bs = [left, joining("b:2", days)]
        assert kpis.k5_outcomes(bs, first, last, report_day, kpis.Returns(bs)) == [(left, outcome)]
    # Pending outflows are left out of the share, not counted as sustained.
    recent = _benefit("b:3", date(2023, 1, 1), date(2024, 6, 1), "c3", "employment")
    bs = [left, joining("b:2", 100), recent]
    assert kpis.k5(bs, first, last, date(2024, 10, 1), kpis.Returns(bs)) == (0.0, 1, 1)


def test_every_measure_counts_pw_ioaw_and_ioaz_only() -> None:
    first, last = date(2024, 1, 1), date(2024, 6, 30)
    kinds = ("PW", "IOAW", "IOAZ", "BBZ")
    ended = [
        _benefit(f"b:{r}", date(2023, 1, 1), date(2024, 3, 1), f"c{r}", "employment", regulation=r)
        for r in kinds
    ]
    running = [_benefit(f"r:{r}", date(2023, 1, 1), None, f"d{r}", regulation=r) for r in kinds]
    bs = ended + running
    assert [b.regulation for b in kpis.k4_outflows(bs, 202401, 202406)] == ["PW", "IOAW", "IOAZ"]
    assert kpis.k5(bs, first, last, date(2025, 1, 1), kpis.Returns(bs)) == (100.0, 3, 0)
    started, stopped = kpis.rate_flows(bs, 202406)
    assert (started, [b.regulation for b in stopped]) == ([], ["PW", "IOAW", "IOAZ"])
    nobody = kpis.ClientFile.of([], [])
    counts = kpis.month_ends(bs, 202307, 202406, nobody)
    assert counts.stock[202406]["GM0405"] == counts.population[202406]["GM0405"] == 3
    assert kpis.k1(bs, last, nobody) == (546.0, 3)  # 1 January 2023 to 30 June 2024


def population_changes(
    bs: Iterable[kpis.KpiBenefit], clients: kpis.ClientFile, first: int
) -> list[tuple[str, int, int]]:
    """The benefits' P cells as (municipality, month, change), the months before `first` as month 0."""
    return [
        (c.municipality, c.month if c.month >= first else 0, c.a)
        for b in bs
        for c in kpi_cells.benefit_cells(b, clients, None)
        if c.measure == kpi_cells.P
    ]


@settings(max_examples=300)
@given(benefits, assessments)
def test_population_changes_sum_to_the_month_ends(bs: tuple, assessed: list) -> None:
    clients = kpis.ClientFile.of(assessed, [])
    months = [m for y in (2023, 2024) for m in range(y * 100 + 1, y * 100 + 13)]
    summed = kpis.MonthEnds.of_changes(population_changes(bs, clients, 202301), (), months)
    assert summed.population == kpis.month_ends(bs, 202301, 202412, clients).population


def test_what_finding_a_benefits_months_keeps_grows_with_the_calendar_not_with_the_clients() -> None:
    """A consumer restates the benefits of ever more clients for as long as it runs: what it keeps
    to find their months may grow with the days reported on, not with their birthdays."""
    day, reported = date(2024, 3, 5), datetime(2024, 3, 5, 9, tzinfo=UTC)
    kept = kpis._report_months.cache_info().currsize
    months = set()
    for k in range(400):
        born = date(1959, 1, 1) + timedelta(days=7 * k)  # some 60 within 13 months of the report
        member = kpis.Member(f"c{k}", date(2023, 1, 1), None, True, born)
        benefit = kpis.KpiBenefit(
            f"benefit:s:{k}", "GM0405", "PW", date(2023, 1, 1), None, "moved_in", None, (member,)
        )
        clients = kpis.ClientFile.of([], [(f"c{k}", day, reported, f"r{k}", False)])
        months.add(tuple(kpis.standing_months(benefit, clients)))
    # Both cases were met: a client 60 in time for the report's twelve months and one who is not.
    assert len({202503 in m for m in months}) == 2
    assert kpis._report_months.cache_info().currsize - kept <= 1
