"""Reports 2 to 7: reasons, composition, placements, trajectories, caseload and the gate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from stroom_reporting.domain.months import first_day, last_day, month_range, quarter_months

UNKNOWN = "unknown"
DURATION_BUCKETS = ("0-6m", "6-12m", "1-2j", "2-3j", "3-4j", "4-5j", ">5j")
AGE_BUCKETS = ("<27", "27-35", "35-45", "45-55", ">=55")


def active_on(start: date, end: date | None, day: date) -> bool:
    """The counting rule of reports-v1: started on or before the day, not ended by it."""
    return start <= day and (end is None or end > day)


def years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def months_between(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month - (day.day < start.day)


def duration_bucket(start: date, day: date) -> str:
    months = months_between(start, day)
    if months < 6:
        return DURATION_BUCKETS[0]
    if months < 12:
        return DURATION_BUCKETS[1]
    return DURATION_BUCKETS[min(months // 12 + 1, 6)] if months < 60 else DURATION_BUCKETS[6]


def age_bucket(born: date, day: date) -> str:
    age = years_between(born, day)
    for bound, bucket in zip((27, 35, 45, 55), AGE_BUCKETS, strict=False):
        if age < bound:
            return bucket
    return AGE_BUCKETS[-1]


def top(counts: Counter[str], n: int = 5) -> list[tuple[str, int]]:
    """The n largest, ties broken by code so the list is the same on every run."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@dataclass(frozen=True)
class Assessed:
    on_date: date
    ladder_step: int
    target_step: int | None
    client_stream: str
    exempt: bool


def latest_on_or_before(dated: Iterable[tuple[date, str, object]], day: date) -> object | None:
    """Of (date, tie-breaker, value) the value with the latest date on or before `day`."""
    candidates = [item for item in dated if item[0] <= day]
    return max(candidates, key=lambda item: (item[0], item[1]))[2] if candidates else None


@dataclass(frozen=True)
class BenefitOnDate:
    municipality: str
    regulation: str
    start_date: date
    applicant_birth_date: date | None
    couple: bool
    assessment: Assessed | None


def composition(benefits: Iterable[BenefitOnDate], day: date) -> dict[str, dict[str, Counter[str]]]:
    """Per municipality, per dimension, the count per value (report 3)."""
    result: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for b in benefits:
        dims = result[b.municipality]
        dims["regulation"][b.regulation] += 1
        dims["duration"][duration_bucket(b.start_date, day)] += 1
        born = b.applicant_birth_date
        dims["age"][age_bucket(born, day) if born else UNKNOWN] += 1
        dims["household"]["couple" if b.couple else "single"] += 1
        a = b.assessment
        dims["ladder_step"][str(a.ladder_step) if a else UNKNOWN] += 1
        dims["target_step"][str(a.target_step) if a and a.target_step else UNKNOWN] += 1
        dims["client_stream"][a.client_stream if a else UNKNOWN] += 1
    return result


def active_per_month_end(
    spells: Iterable[tuple[str, str, date, date | None]], first: int, last: int
) -> dict[tuple[str, str, int], int]:
    """(municipality, kind, start, end) -> count active on each month's last day (report 4)."""
    months = month_range(first, last)
    counts: Counter[tuple[str, str, int]] = Counter()
    for municipality, kind, start, end in spells:
        for month in months:
            if active_on(start, end, last_day(month)):
                counts[(municipality, kind, month)] += 1
    return dict(counts)


def realisation(active: int, target: float | None) -> float | None:
    """Realisation as a percentage of the target, one decimal; None without a target."""
    return round(100.0 * active / target, 1) if target else None


@dataclass(frozen=True)
class PhaseCounts:
    begin: int
    inflow: int
    outflow: int
    end: int


def phase_quarter(
    phases: Iterable[tuple[str, str, date, date | None]], quarter: int
) -> dict[tuple[str, str], PhaseCounts]:
    """(municipality, phase, start, end) -> begin/in/out/end of a quarter per phase (report 5)."""
    first, last = quarter_months(quarter)
    before = date.fromordinal(first_day(first).toordinal() - 1)
    end_day = last_day(last)
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for municipality, phase, start, end in phases:
        counts = acc[(municipality, phase)]
        counts[0] += active_on(start, end, before)
        counts[1] += before < start <= end_day
        counts[2] += end is not None and before < end <= end_day
        counts[3] += active_on(start, end, end_day)
    return {k: PhaseCounts(*v) for k, v in acc.items() if any(v)}


def ended_by_phase_outcome(
    last_phases: Iterable[tuple[str, str, str | None, date | None]], quarter: int
) -> Counter[tuple[str, str, str]]:
    """(municipality, last phase, outcome, end date) of trajectories ended in the quarter."""
    first, last = quarter_months(quarter)
    start, end = first_day(first), last_day(last)
    counts: Counter[tuple[str, str, str]] = Counter()
    for municipality, phase, outcome, ended in last_phases:
        if ended is not None and start <= ended <= end:
            counts[(municipality, phase, outcome or UNKNOWN)] += 1
    return counts


@dataclass(frozen=True)
class GateCounts:
    received: int
    granted: int
    rejected: int
    withdrawn: int

    @property
    def share_not_granted(self) -> float | None:
        decided = self.granted + self.rejected + self.withdrawn
        return round(100.0 * (self.rejected + self.withdrawn) / decided, 1) if decided else None

    @classmethod
    def total(cls, parts: Iterable[GateCounts | None]) -> GateCounts:
        """The sum of several months or municipalities; None counts nothing."""
        present = [p for p in parts if p is not None]
        return cls(
            sum(p.received for p in present),
            sum(p.granted for p in present),
            sum(p.rejected for p in present),
            sum(p.withdrawn for p in present),
        )


def gate(
    applications: Iterable[tuple[str, date, str | None, date | None]], first: int, last: int
) -> dict[tuple[str, int], GateCounts]:
    """(municipality, received_on, decision, decided_on) -> counts per month (report 7):
    received by received_on, decisions by decided_on."""
    months = set(month_range(first, last))
    acc: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    for municipality, received_on, decision, decided_on in applications:
        received_month = received_on.year * 100 + received_on.month
        if received_month in months:
            acc[(municipality, received_month)]["received"] += 1
        if decision and decided_on:
            decided_month = decided_on.year * 100 + decided_on.month
            if decided_month in months:
                acc[(municipality, decided_month)][decision] += 1
    return {
        key: GateCounts(c["received"], c["granted"], c["rejected"], c["withdrawn"]) for key, c in acc.items()
    }


def caseload(
    clients: Sequence[tuple[str, str, str | None, str | None]],
) -> Counter[tuple[str, str, str]]:
    """(municipality, client_ref, coach, stream) of active clients -> count per coach x stream."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for municipality, _client, coach, stream in clients:
        counts[(municipality, coach or UNKNOWN, stream or UNKNOWN)] += 1
    return counts
