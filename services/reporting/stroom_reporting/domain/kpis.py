"""Report 8, the KPIs of the WerkSaam annex (reports-v1), from benefits, client records, applications."""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from itertools import product
from typing import Any, NamedTuple, TypeVar

from stroom_reporting.domain.families import active_on, years_between
from stroom_reporting.domain.months import (
    first_day,
    last_day,
    month_of,
    month_range,
    next_month,
    previous_month,
)

KPI_REGULATIONS = frozenset({"PW", "IOAW", "IOAZ"})
WORK = frozenset({"employment", "self_employment"})
WORK_OR_EDUCATION = WORK | {"education_with_student_finance"}
SIX_MONTHS = 183
TWELVE_MONTHS = 365
TOTAL = "*"
T = TypeVar("T")
K = TypeVar("K")


class Member(NamedTuple):
    """One membership of a benefit: from `joined` until `left` (exclusive, None = still a member)."""

    client_ref: str
    joined: date
    left: date | None
    applicant: bool  # role `applicant`
    birth_date: date | None


class KpiBenefit(NamedTuple):
    entity: str
    municipality: str
    regulation: str
    start_date: date
    end_date: date | None
    inflow_reason: str
    outflow_reason: str | None
    members: tuple[Member, ...]


class Plan(NamedTuple):
    ref: str  # the plan's key, `plan:<source>:<plan_ref>`
    client_ref: str
    sent_on: date
    application: str | None  # the linked application's entity key, when the plan names one


class Application(NamedTuple):
    entity: str
    client_ref: str
    municipality: str
    received_on: date


Recorded = tuple[datetime, str]  # when a record became known (its event's `time`) and its id


@dataclass(frozen=True)
class ClientFile:
    """Per client, dated (day, (time, id), value) lists in that order: the latest on or before a
    day is found by bisection, and of one day's records the one recorded last counts."""

    assessments: dict[str, list[tuple[date, Recorded, tuple[str, bool]]]]
    progress: dict[str, list[tuple[date, Recorded, bool]]]
    # Per client the days of those lists: bisected without a key function, which every month end
    # of every restated benefit asks for.
    assessment_days: dict[str, list[date]]
    progress_days: dict[str, list[date]]

    @staticmethod
    def of(
        assessments: Iterable[tuple[str, date, datetime, str, str, bool]],
        progress: Iterable[tuple[str, date, datetime, str, bool]],
    ) -> ClientFile:
        """From (client, assessed_on, time, record_id, client_stream, exempt) and
        (client, recorded_on, time, record_id, long_trajectory)."""
        by_client: dict[str, list[tuple[date, Recorded, tuple[str, bool]]]] = defaultdict(list)
        for client, day, time, record, stream, exempt in assessments:
            by_client[client].append((day, (time, record), (stream, exempt)))
        reports: dict[str, list[tuple[date, Recorded, bool]]] = defaultdict(list)
        for client, day, time, record, long_trajectory in progress:
            reports[client].append((day, (time, record), long_trajectory))
        return ClientFile.filed(by_client, reports)

    @staticmethod
    def filed(
        assessments: Mapping[str, list[tuple[date, Recorded, tuple[str, bool]]]],
        progress: Mapping[str, list[tuple[date, Recorded, bool]]],
    ) -> ClientFile:
        """From the lists per client as the file holds them, in any order."""
        assessed = {c: sorted(items) for c, items in assessments.items()}
        reported = {c: sorted(items) for c, items in progress.items()}
        return ClientFile(
            assessed,
            reported,
            {c: [item[0] for item in items] for c, items in assessed.items()},
            {c: [item[0] for item in items] for c, items in reported.items()},
        )

    def move(
        self,
        came: Iterable[tuple[bool, str, tuple[date, Recorded, Any]]],
        went: Iterable[tuple[bool, str, tuple[date, Recorded, Any]]],
    ) -> None:
        """Add items (assessment or not, client, item) to this file and take others out, in place:
        a restate steps one benefit's file from moment to moment and asks for no earlier state of
        it, so a copy of the file per moment would be thrown away at the next."""
        for assessment, client, item in went:
            items = (self.assessments if assessment else self.progress)[client]
            index = items.index(item)
            del items[index]
            del (self.assessment_days if assessment else self.progress_days)[client][index]
        for assessment, client, item in came:
            items = (self.assessments if assessment else self.progress).setdefault(client, [])
            index = bisect_right(items, item)
            items.insert(index, item)
            (self.assessment_days if assessment else self.progress_days).setdefault(client, []).insert(
                index, item[0]
            )

    def assessment(self, client: str, day: date) -> tuple[str, bool] | None:
        index = bisect_right(self.assessment_days.get(client, ()), day)
        return self.assessments[client][index - 1][2] if index else None

    def progress_report(self, client: str, day: date) -> tuple[date, bool] | None:
        index = bisect_right(self.progress_days.get(client, ()), day)
        return (self.progress_days[client][index - 1], self.progress[client][index - 1][2]) if index else None

    def next_day(self, assessment: bool, client: str, day: date) -> date | None:
        """The first day after `day` with one of the client's assessments (or progress reports)."""
        days = (self.assessment_days if assessment else self.progress_days).get(client, ())
        index = bisect_right(days, day)
        return days[index] if index < len(days) else None


def _latest(items: Sequence[tuple[date, K, T]], day: date) -> T | None:
    index = bisect_right(items, day, key=lambda item: item[0])
    return items[index - 1][2] if index else None


@cache  # every month end of every restated benefit asks for the day its reports must reach
def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, or that month's last day if it is shorter."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, last_day(year * 100 + month + 1).day))


def person_on(benefit: KpiBenefit, day: date) -> Member | None:
    """The one person a benefit stands for on D: its applicant while they are a member, else the
    longest-standing remaining member (the same day: by client_ref); None when nobody is."""
    if len(benefit.members) == 1:  # most benefits: no choice to make
        only = benefit.members[0]
        return only if active_on(only.joined, only.left, day) else None
    present = [m for m in benefit.members if active_on(m.joined, m.left, day)]
    return min(present, key=lambda m: (not m.applicant, m.joined, m.client_ref), default=None)


def population_member(benefit: KpiBenefit, day: date, clients: ClientFile) -> Member | None:
    """The benefit's person in P(D), if any: a PW, IOAW or IOAZ benefit active on D whose person
    is not a care client (nor exempt) by their latest assessment on or before D."""
    found = _assessed_member(benefit, day, clients)
    return found[0] if found else None


Assessed = tuple[str, bool] | None  # a person's latest assessment on a day: (client_stream, exempt)


def _assessed_member(benefit: KpiBenefit, day: date, clients: ClientFile) -> tuple[Member, Assessed] | None:
    """`population_member` with the assessment that let the person in, which K2 reads too."""
    if benefit.regulation not in KPI_REGULATIONS or not active_on(benefit.start_date, benefit.end_date, day):
        return None
    person = person_on(benefit, day)
    if person is None:
        return None
    assessed = clients.assessment(person.client_ref, day)
    return (person, assessed) if assessed is None or not keeps_out(assessed) else None


def keeps_out(assessed: tuple[str, bool]) -> bool:
    """Whether an assessment (client_stream, exempt) keeps its client out of P: a care client, or exempt."""
    return assessed[0] == "care" or assessed[1]


def assessment_reading(assessed: Assessed) -> tuple[bool, bool]:
    """All that P, K1 and K2 read of a person's latest assessment (None: they have none): whether it
    keeps them out of P and, if not, whether it makes them a mediable client (K2)."""
    out = assessed is not None and keeps_out(assessed)
    return out, not out and assessed is not None and is_mediable(assessed)


def is_mediable(assessed: tuple[str, bool]) -> bool:
    return assessed[0] == "mediable"


def in_population(benefit: KpiBenefit, day: date, clients: ClientFile) -> bool:
    return population_member(benefit, day, clients) is not None


def _age(person: Member, day: date) -> int | None:
    return years_between(person.birth_date, day) if person.birth_date else None


def _pct(part: int, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None


class Ratio(NamedTuple):
    """A KPI as computed: numerator over denominator (times 100 for a percentage), unrounded, so
    a norm is decided on it and only what is displayed is rounded."""

    numerator: float
    denominator: float
    percentage: bool

    @property
    def value(self) -> float | None:
        if not self.denominator:
            return None
        quotient = self.numerator / self.denominator
        return 100.0 * quotient if self.percentage else quotient


@dataclass(frozen=True)
class Figures:
    """The KPI values of one scope and period (rounded for display), with the counts they rest
    on and, per KPI, the unrounded ratio it is."""

    k1_days: float | None
    k1_basis: int
    k2_pct: float | None
    k2_basis: int
    k3_mean_days: float | None
    k3_median_days: float | None
    k3_basis: int
    k4_pct: float | None
    k4_outflow: int
    k4_mean_clients: float
    k5_pct: float | None
    k5_decided: int
    k5_pending: int
    inflow_pct: float | None
    outflow_pct: float | None
    rate_mean_stock: float
    ratios: dict[str, Ratio]


InPopulation = tuple[KpiBenefit, Member]  # a benefit in P(D) and the person it stands for


def population(benefits: Iterable[KpiBenefit], day: date, clients: ClientFile) -> list[InPopulation]:
    """P(D): the benefits in it, each with its person (what K1 and K2 start from)."""
    return [(b, person) for b in benefits if (person := population_member(b, day, clients)) is not None]


def k1_members(members: Iterable[InPopulation], day: date) -> list[tuple[KpiBenefit, int]]:
    """The benefits of P(D) K1 counts, clients aged 60 or more left out, with their days since the start."""
    return [(b, (day - b.start_date).days) for b, person in members if in_k1(person, day)]


def in_k1(person: Member, day: date) -> bool:
    """Whether K1 counts the person of a benefit in P(D): aged under 60 (a known birth date)."""
    return _k1_age(_age(person, day))


def _k1_age(age: int | None) -> bool:
    """`in_k1` given the person's age on D (None: no known birth date)."""
    return age is not None and age < 60


def k1(benefits: Iterable[KpiBenefit], day: date, clients: ClientFile) -> tuple[float | None, int]:
    """Mean days since the start over P(D), clients aged 60 or more left out."""
    days = [d for _, d in k1_members(population(benefits, day, clients), day)]
    return _mean(sum(days), len(days)), len(days)


def k2(benefits: Iterable[KpiBenefit], day: date, clients: ClientFile) -> tuple[float | None, int]:
    """Of P(D)'s mediable clients, the share with a progress report at most 3 months old (12 with
    long_trajectory on that report, or aged 60 or more)."""
    current, basis = k2_counts(k2_members(population(benefits, day, clients), day, clients))
    return _pct(current, basis), basis


def k2_counts(members: Sequence[tuple[KpiBenefit, bool]]) -> tuple[int, int]:
    """K2's numerator and denominator: P(D)'s mediable clients with a current report, and all."""
    return sum(current for _, current in members), len(members)


def k2_members(
    members: Iterable[InPopulation], day: date, clients: ClientFile
) -> list[tuple[KpiBenefit, bool]]:
    """P(D)'s mediable clients' benefits, each with whether its latest progress report is current."""
    return [
        (b, current) for b, person in members if (current := k2_current(person, day, clients)) is not None
    ]


def k2_current(person: Member, day: date, clients: ClientFile) -> bool | None:
    """For the person of a benefit in P(D): None when not a mediable client, else whether their
    latest progress report is current (at most 3 months old; 12 with long_trajectory on that
    report, or aged 60 or more)."""
    return _k2_current(person, day, clients, clients.assessment(person.client_ref, day), _age(person, day))


def _k2_current(
    person: Member, day: date, clients: ClientFile, assessed: Assessed, age: int | None
) -> bool | None:
    """`k2_current` given the person's latest assessment on or before D and their age on D."""
    if assessed is None or not is_mediable(assessed):
        return None
    report = clients.progress_report(person.client_ref, day)
    if report is None:
        return False
    return _current(report[0], day, 12 if report[1] or (age is not None and age >= 60) else 3)


def _current(reported_on: date, day: date, months: int) -> bool:
    """Whether a progress report of `reported_on` is current on D: at most `months` months old."""
    return reported_on >= months_before(day, months)


class Standing(NamedTuple):
    """A benefit at a month end: in P, counted in K1, a mediable client of P (K2's denominator),
    and one whose progress report is current (K2's numerator)."""

    population: bool
    k1: bool
    mediable: bool
    current: bool


NOWHERE = Standing(False, False, False, False)
# Every standing in P there is, made once: a restate asks for one at every month end of every benefit.
_STANDINGS = {
    (k1, mediable, current): Standing(True, k1, mediable, current)
    for k1, mediable, current in product((False, True), repeat=3)
}


def standing(benefit: KpiBenefit, day: date, clients: ClientFile) -> Standing:
    """Where the benefit stands on D by the rules of P, K1 and K2 (`population_member`, `in_k1`,
    `k2_current`)."""
    found = _assessed_member(benefit, day, clients)
    if found is None:
        return NOWHERE
    person, assessed = found
    age = _age(person, day)
    current = _k2_current(person, day, clients, assessed, age)
    return _STANDINGS[_k1_age(age), current is not None, bool(current)]


def standing_kept_before(old: KpiBenefit, new: KpiBenefit) -> date:
    """The first day on which a benefit's new version may stand otherwise than its old one (their
    clients' records alike): before it, both are active or not alike, with the same members, so
    they stand for the same person. date.min when they differ from the start (another start,
    regulation or municipality, which every cell holds)."""
    if old == new:  # most moments of a restate change a record of the benefit's persons only
        return date.max
    if (old.municipality, old.regulation, old.start_date) != (
        new.municipality,
        new.regulation,
        new.start_date,
    ):
        return date.min
    days = [d for d in (old.end_date, new.end_date) if d is not None] if old.end_date != new.end_date else []
    lefts: dict[tuple[str, date, bool, date | None], list[date | None]] = defaultdict(list)
    for m in set(old.members) ^ set(new.members):
        lefts[(m.client_ref, m.joined, m.applicant, m.birth_date)].append(m.left)
    for (_, joined, _, _), left in lefts.items():
        # The same membership with another end differs from the earlier end on; another, from its start.
        if len(left) == 2:
            days.extend(d for d in left if d is not None)
        else:
            days.append(joined)
    return min(days, default=date.max)


def _months_later(month: int, months: int) -> int:
    year, index = divmod(month // 100 * 12 + month % 100 - 1 + months, 12)
    return year * 100 + index + 1


@cache  # every progress report that comes or goes in a restate asks for its own
def report_stale_from(day: date) -> int:
    """The month from whose end on a progress report of `day` is stale whatever its client's age
    or its long_trajectory (12 months at most), as is every report before it: the last month
    whose change (of the month end before) the report can move."""
    return _months_later(month_of(day), 13)


# A client's reports are read again at every restate of their benefits. Kept by the day alone,
# not by the client's 60th birthday as well, the cache stays as small as the calendar: with the
# birthday in its key it would gain an entry for nearly every report loaded, for as long as the
# process runs.
@cache
def _report_months(day: date, long_trajectory: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """The months in which a progress report of `day` may change a standing: its own, and those
    at whose end it stops being current: after 12 months when it has long_trajectory, after 3
    otherwise, and after 12 too when its client may be 60 by then (otherwise a report that old is
    stale already). As (the months for a client not 60 by then, those for one who may be, the
    last month in which a client's 60th birthday month makes them the second)."""
    month = month_of(day)
    if long_trajectory:
        months = month, _stale_from(day, 12)
        return months, months, 0
    short = _stale_from(day, 3)
    return (month, short), (month, short, _stale_from(day, 12)), _months_later(month, 13)


def _stale_from(day: date, months: int) -> int:
    """The first month at whose end a progress report of `day` is no longer current by the rule
    of `months` months: at the end of the month `months` on it still is when that end falls short
    of its day (a shorter month), and at the end of the month after it never is."""
    month = _months_later(month_of(day), months)
    return month if not _current(day, last_day(month), months) else next_month(month)


@cache  # every step of a restate asks for its members' month
def _sixty_from(born: date) -> int:
    """The first month at whose end a person born on `born` is 60: that of their 60th birthday,
    or the one after when that month ends short of their birthday (born on 29 February)."""
    month = born.year * 100 + 6000 + born.month
    return month if years_between(born, last_day(month)) >= 60 else next_month(month)


def standing_months(
    benefit: KpiBenefit, clients: ClientFile, first: int = 0, until: int | None = None
) -> list[int]:
    """The months from the benefit's start (and from `first`, up to `until`) at whose end its
    standing may differ from the month before's: a start, end, join or leave, an assessment, a
    progress report and the months in which it stops being current (3 or 12 months on), a member
    turning 60. At every other month end it is the same as at the one before."""
    started = month_of(benefit.start_date)
    start = max(started, first)
    end = benefit.end_date
    months = {started}
    # From the month of its end on a benefit stands nowhere at every month end: reports, 60th
    # birthdays and assessments that come later change nothing there.
    last = None
    if end is not None:
        last = month_of(end)
        months.add(last)
    if until is not None:
        last = until if last is None else min(last, until)
    # A record moves month ends from its own month on, a progress report's up to 13 months later:
    # records older than that reach no month asked for, and a client's long history is passed by.
    assessed_from = first_day(start)
    reported_from = months_before(assessed_from, 13)
    assessment_days, progress_days = clients.assessment_days, clients.progress_days
    for m in benefit.members:
        months.add(month_of(m.joined))
        if m.left is not None:
            months.add(month_of(m.left))
        client = m.client_ref
        if assessed := assessment_days.get(client):
            months.update(map(month_of, assessed[bisect_left(assessed, assessed_from) :]))
        born = m.birth_date
        sixty = None if born is None else _sixty_from(born)
        if reported := progress_days.get(client):
            for day, _, long_trajectory in clients.progress[client][bisect_left(reported, reported_from) :]:
                young, turning_sixty, sixty_by = _report_months(day, long_trajectory)
                months.update(turning_sixty if sixty is not None and sixty <= sixty_by else young)
        if sixty is not None:
            months.add(sixty)
    ordered = sorted(months)
    return ordered[bisect_left(ordered, start) : None if last is None else bisect_right(ordered, last)]


def standing_changes(
    benefit: KpiBenefit,
    clients: ClientFile,
    first: int = 0,
    until: int | None = None,
    known: Standing | None = None,
) -> list[tuple[int, Standing, Standing]]:
    """(month, standing before, standing at its end) for every month from `first` on (up to
    `until`) at whose end the benefit's standing changes; before its first month, it stands nowhere.
    `known`: its standing at the end of the month before `first`, when the caller holds it."""
    if benefit.regulation not in KPI_REGULATIONS:
        return []
    changes = []
    # The months before `first` are not gone through: the standing just before it is that at the
    # end of the month before (as at the last standing month before it).
    before = NOWHERE
    if first > month_of(benefit.start_date):
        before = standing(benefit, last_day(previous_month(first)), clients) if known is None else known
    for month in standing_months(benefit, clients, first, until):
        now = standing(benefit, last_day(month), clients)
        if now != before:
            changes.append((month, before, now))
            before = now
    return changes


class LeadTime(NamedTuple):
    plan: Plan
    application: Application
    days: int


class Applications:
    """The applications plans may be linked to: by entity key, and per client by received_on."""

    def __init__(self, applications: Iterable[Application]) -> None:
        self._by_entity = {a.entity: a for a in applications}
        by_client: dict[str, list[tuple[date, str, Application]]] = defaultdict(list)
        for a in self._by_entity.values():
            by_client[a.client_ref].append((a.received_on, a.entity, a))
        for items in by_client.values():
            items.sort()
        self._by_client = by_client

    def lead_time(self, plan: Plan) -> LeadTime | None:
        """K3 of one plan: the application it is linked to (the named one, else the client's
        latest received on or before sent_on; none found, None) and the days from its received_on
        to sent_on."""
        application = self._by_entity.get(plan.application) if plan.application else None
        if application is None:
            application = _latest(self._by_client.get(plan.client_ref, []), plan.sent_on)
        if application is None:
            return None
        return LeadTime(plan, application, (plan.sent_on - application.received_on).days)


def lead_times(
    plans: Iterable[Plan], applications: Iterable[Application], first: date, last: date
) -> list[LeadTime]:
    """K3 per plan sent in [first, last] that is linked to an application (`Applications.lead_time`)."""
    linked = Applications(applications)
    return [
        found
        for plan in plans
        if first <= plan.sent_on <= last and (found := linked.lead_time(plan)) is not None
    ]


@dataclass(frozen=True)
class MonthEnds:
    """Per month end and municipality: P's count and the active KPI-regulation benefits (stock)."""

    population: dict[int, Counter[str]]
    stock: dict[int, Counter[str]]

    def mean(self, counts: dict[int, Counter[str]], months: Sequence[int], municipalities: set[str]) -> float:
        return statistics.fmean(sum(counts[m][g] for g in municipalities) for m in months)

    @staticmethod
    def of_changes(
        population: Iterable[tuple[str, int, int]],
        stock: Iterable[tuple[str, int, int]],
        months: Sequence[int],
    ) -> MonthEnds:
        """From (municipality, month, change) of each count, month 0 holding all before `months`
        (consecutive months, ascending): a month end's count is the sum of the changes up to it."""
        return MonthEnds(_cumulative(population, months), _cumulative(stock, months))


def _cumulative(changes: Iterable[tuple[str, int, int]], months: Sequence[int]) -> dict[int, Counter[str]]:
    per_month: dict[int, Counter[str]] = defaultdict(Counter)
    for municipality, month, change in changes:
        per_month[month][municipality] += change
    running = Counter(per_month[0])
    result = {}
    for month in months:
        running.update(per_month[month])
        result[month] = Counter(running)
    return result


def month_ends(benefits: Iterable[KpiBenefit], first: int, last: int, clients: ClientFile) -> MonthEnds:
    """The month ends of first..last by the definition, day by day: what the report's counts,
    summed from changes (P's cells, kpi_cells, and SQL for the stock), are tested against."""
    months = month_range(first, last)
    population: dict[int, Counter[str]] = {m: Counter() for m in months}
    stock: dict[int, Counter[str]] = {m: Counter() for m in months}
    for b in benefits:
        for month in months:
            end = last_day(month)
            if b.regulation in KPI_REGULATIONS and active_on(b.start_date, b.end_date, end):
                stock[month][b.municipality] += 1
                population[month][b.municipality] += in_population(b, end, clients)
    return MonthEnds(population, stock)


def k4(
    benefits: Iterable[KpiBenefit], first: int, last: int, counts: MonthEnds, municipalities: set[str]
) -> tuple[float | None, int, float]:
    """Benefits (KPI regulations) ended in the period to work or education, as a % of the mean of
    P's month-end counts over the period's months."""
    ended = len(k4_outflows(benefits, first, last))
    mean = counts.mean(counts.population, month_range(first, last), municipalities)
    return _pct(ended, mean), ended, mean


def k4_outflows(benefits: Iterable[KpiBenefit], first: int, last: int) -> list[KpiBenefit]:
    """K4's numerator: benefits (KPI regulations) ended in the months to work or education."""
    return [
        b
        for b in _ended_in(benefits, first_day(first), last_day(last))
        if b.outflow_reason in WORK_OR_EDUCATION
    ]


class Returns:
    """When each person joined which benefit: to find who came back after an outflow."""

    def __init__(self, benefits: Iterable[KpiBenefit]) -> None:
        joins: dict[str, list[tuple[date, str, str]]] = defaultdict(list)
        for b in benefits:
            for client, joined, *_ in b.members:
                joins[client].append((joined, b.entity, b.inflow_reason))
        for items in joins.values():
            items.sort()
        self._joins = joins

    def first_return(self, benefit: KpiBenefit, days: int) -> tuple[date, str] | None:
        """The first other benefit that a member at the end joined within `days` after it (ties:
        by entity key): (that day, its inflow reason)."""
        assert benefit.end_date is not None
        horizon = benefit.end_date + timedelta(days=days)
        found: tuple[date, str, str] | None = None
        for client, _, left, _, _ in benefit.members:
            if left is not None and left < benefit.end_date:
                continue
            for joined, entity, reason in self._joins.get(client, []):
                if entity != benefit.entity and benefit.end_date <= joined <= horizon:
                    if found is None or (joined, entity) < found[:2]:
                        found = (joined, entity, reason)
                    break
        return (found[0], found[2]) if found else None


def returns_of(benefit: KpiBenefit, others: Iterable[KpiBenefit], organisation: Collection[str]) -> Returns:
    """The returns K5 and the revolving door count after the benefit: a member's new benefit (or
    join) in any municipality of its organisation (`organisation`: those municipalities), of any
    regulation; benefits elsewhere are no return."""
    return Returns([benefit, *(b for b in others if b.municipality in organisation)])


def _ended_in(benefits: Iterable[KpiBenefit], first: date, last: date) -> list[KpiBenefit]:
    """Benefits of the KPI regulations (the scope of every KPI measure) ended in [first, last]."""
    return [
        b
        for b in benefits
        if b.regulation in KPI_REGULATIONS and b.end_date is not None and first <= b.end_date <= last
    ]


def k5(
    benefits: Iterable[KpiBenefit], first: date, last: date, report_day: date, returns: Returns
) -> tuple[float | None, int, int]:
    """Of outflows to work in the period: the % without a member's new benefit within 183 days;
    outflows whose 183 days have not passed by the report day are pending. (pct, decided, pending)"""
    sustainable, decided, pending = k5_counts(benefits, first, last, report_day, returns)
    return _pct(sustainable, decided), decided, pending


def k5_counts(
    benefits: Iterable[KpiBenefit], first: date, last: date, report_day: date, returns: Returns
) -> tuple[int, int, int]:
    """K5's sustained outflows to work, those decided (sustained or returned), and those pending."""
    outcomes = Counter(outcome for _, outcome in k5_outcomes(benefits, first, last, report_day, returns))
    return outcomes[SUSTAINED], outcomes[SUSTAINED] + outcomes[RETURNED], outcomes[PENDING]


SUSTAINED, RETURNED, PENDING = "sustained", "returned", "pending"


def k5_outcomes(
    benefits: Iterable[KpiBenefit], first: date, last: date, report_day: date, returns: Returns
) -> list[tuple[KpiBenefit, str]]:
    """Outflows to work in [first, last], each sustained, returned (a member in another benefit
    within 183 days) or pending (those days not passed on the report day)."""
    outcomes = []
    for b in _ended_in(benefits, first, last):
        if b.outflow_reason in WORK:
            outcomes.append((b, k5_outcome(b, report_day, returns)))
    return outcomes


def k5_outflow(benefit: KpiBenefit) -> bool:
    """Whether K5 counts the benefit: one of the KPI regulations, ended with an outflow to work."""
    return bool(_ended_in([benefit], date.min, date.max)) and benefit.outflow_reason in WORK


def k5_returned(benefit: KpiBenefit, returns: Returns) -> bool:
    """Whether a member of the outflow started or joined another benefit within 183 days."""
    return returns.first_return(benefit, SIX_MONTHS) is not None


def k5_pending(end: date, report_day: date) -> bool:
    """An outflow to work on `end` is pending until its 183 days have passed on the report day."""
    return end > k5_last_decided(report_day)


def k5_last_decided(report_day: date) -> date:
    """The last end date of an outflow to work whose 183 days have passed on the report day."""
    return report_day - timedelta(days=SIX_MONTHS)


def k5_outcome(benefit: KpiBenefit, report_day: date, returns: Returns) -> str:
    assert benefit.end_date is not None
    if k5_pending(benefit.end_date, report_day):
        return PENDING
    return RETURNED if k5_returned(benefit, returns) else SUSTAINED


class DoorCell(NamedTuple):
    outflow_reason: str
    inflow_reason: str  # of the benefit a member came back in
    within_6m: bool  # else within 12 months only


def door_cell(benefit: KpiBenefit, returns: Returns) -> DoorCell | None:
    """Where an ended benefit of the KPI regulations stands in the revolving door: a member's first
    new benefit within 12 months (365 days) after its end, within 6 (183 days) or not; None when
    nobody came back in that time."""
    back = returns.first_return(benefit, TWELVE_MONTHS)
    if back is None:
        return None
    assert benefit.end_date is not None
    within_6m = back[0] <= benefit.end_date + timedelta(days=SIX_MONTHS)
    return DoorCell(benefit.outflow_reason or "unknown", back[1], within_6m)


def revolving_door(
    benefits: Iterable[KpiBenefit], first: date, last: date, returns: Returns
) -> Counter[tuple[str, str, str, int]]:
    """(municipality, outflow reason, new inflow reason, 6 or 12) -> outflows in the period after
    which a member started a new benefit within 6 (183 days) or 12 months (365); 12 includes 6."""
    counts: Counter[tuple[str, str, str, int]] = Counter()
    for b in _ended_in(benefits, first, last):
        cell = door_cell(b, returns)
        if cell is None:
            continue
        counts[(b.municipality, cell.outflow_reason, cell.inflow_reason, 12)] += 1
        if cell.within_6m:
            counts[(b.municipality, cell.outflow_reason, cell.inflow_reason, 6)] += 1
    return counts


def rates(
    benefits: Iterable[KpiBenefit], last: int, counts: MonthEnds, municipalities: set[str]
) -> tuple[float | None, float | None, float]:
    """Benchmark: KPI-regulation benefits started and ended in the 12 months up to the last month,
    as % of the mean month-end stock over those months."""
    started, ended, stock = rate_counts(benefits, last, counts, municipalities)
    return _pct(started, stock), _pct(ended, stock), round(stock, 1)


def rate_counts(
    benefits: Iterable[KpiBenefit], last: int, counts: MonthEnds, municipalities: set[str]
) -> tuple[int, int, float]:
    """The benchmark rates' benefits started and ended in the 12 months up to `last`, and the mean
    month-end stock over those months (unrounded)."""
    started, ended = rate_flows(benefits, last)
    stock = counts.mean(counts.stock, rate_months(last), municipalities)
    return len(started), len(ended), stock


def rate_months(last: int) -> list[int]:
    """The 12 months up to `last` the benchmark rates look at."""
    return month_range(next_month(last - 100), last)


def rate_flows(benefits: Iterable[KpiBenefit], last: int) -> tuple[list[KpiBenefit], list[KpiBenefit]]:
    """The benchmark rates' numerators: KPI-regulation benefits started, and ended, in the 12
    months up to `last`."""
    months = rate_months(last)
    start, end = first_day(months[0]), last_day(last)
    own = [b for b in benefits if b.regulation in KPI_REGULATIONS]
    started = [b for b in own if start <= b.start_date <= end]
    ended = [b for b in own if b.end_date is not None and start <= b.end_date <= end]
    return started, ended


class SheetCounts(NamedTuple):
    """What one scope's and period's KPI figures are computed from."""

    k1_days: int  # the sum of K1's days
    k1_basis: int
    k2_current: int
    k2_basis: int
    lead_days: Mapping[int, int]  # K3's lead times: how many plans took each number of days
    k4_outflow: int
    k4_mean: float  # P's mean month-end count
    k5_sustained: int
    k5_decided: int
    k5_pending: int
    started: int  # benchmark rates
    ended: int
    stock: float


def figures(
    benefits: Sequence[KpiBenefit],
    lead_days: Sequence[int],
    first: int,
    last: int,
    clients: ClientFile,
    returns: Returns,
    report_day: date,
    counts: MonthEnds,
    municipalities: set[str],
) -> Figures:
    """Every KPI of one scope (its municipalities and their benefits) for the months first..last,
    recomputed from its benefits; `counts` must hold the month ends of the 12 months up to `last`
    and of first..last."""
    day = last_day(last)
    in_p = population(benefits, day, clients)
    days = [d for _, d in k1_members(in_p, day)]
    k2_current, k2_basis = k2_counts(k2_members(in_p, day, clients))
    _, k4_outflow, k4_mean = k4(benefits, first, last, counts, municipalities)
    k5_sustained, k5_decided, k5_pending = k5_counts(benefits, first_day(first), day, report_day, returns)
    started, ended, stock = rate_counts(benefits, last, counts, municipalities)
    return figures_of(
        SheetCounts(
            sum(days),
            len(days),
            k2_current,
            k2_basis,
            Counter(lead_days),
            k4_outflow,
            k4_mean,
            k5_sustained,
            k5_decided,
            k5_pending,
            started,
            ended,
            stock,
        )
    )


def median_of(counts: Mapping[int, int]) -> float:
    """The median of values given as how often each occurs (statistics.median of them listed),
    in steps of the distinct values rather than of the values."""
    total = sum(counts.values())
    middle = [(total - 1) // 2, total // 2]  # the one or two positions the median averages
    found: list[int] = []
    seen = 0
    for value, count in sorted(counts.items()):
        seen += count
        while middle and middle[0] < seen:
            found.append(value)
            middle.pop(0)
    return found[0] if found[0] == found[1] else (found[0] + found[1]) / 2


def figures_of(c: SheetCounts) -> Figures:
    """The KPI values of the counts, with their unrounded ratios."""
    plans = sum(c.lead_days.values())
    days = sum(d * n for d, n in c.lead_days.items())
    ratios = {
        "K1": Ratio(c.k1_days, c.k1_basis, False),
        "K2": Ratio(c.k2_current, c.k2_basis, True),
        "K3": Ratio(days, plans, False),
        "K4": Ratio(c.k4_outflow, c.k4_mean, True),
        "K5": Ratio(c.k5_sustained, c.k5_decided, True),
        "inflow_rate": Ratio(c.started, c.stock, True),
        "outflow_rate": Ratio(c.ended, c.stock, True),
    }
    return Figures(
        _mean(c.k1_days, c.k1_basis),
        c.k1_basis,
        _pct(c.k2_current, c.k2_basis),
        c.k2_basis,
        _mean(days, plans),
        round(float(median_of(c.lead_days)), 1) if plans else None,
        plans,
        _pct(c.k4_outflow, c.k4_mean),
        c.k4_outflow,
        round(c.k4_mean, 1),
        _pct(c.k5_sustained, c.k5_decided),
        c.k5_decided,
        c.k5_pending,
        _pct(c.started, c.stock),
        _pct(c.ended, c.stock),
        round(c.stock, 1),
        ratios,
    )


class Assessment(NamedTuple):
    target: float | None
    met: bool | None


def lower_by(value: float | None, last_year: float | None, pct: float | None) -> Assessment:
    """Target: `pct` % below last year's value; decided on the unrounded values, the target
    rounded only as it is shown."""
    if pct is None or last_year is None:
        return Assessment(None, None)
    target = last_year * (1 - pct / 100)
    return Assessment(round(target, 1), None if value is None else value <= target)


def at_least(value: float | None, target: float | None) -> Assessment:
    if target is None:
        return Assessment(None, None)
    return Assessment(target, None if value is None else value >= target)
