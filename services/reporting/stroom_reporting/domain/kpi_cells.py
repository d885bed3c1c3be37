"""The KPI sheet as sums of cells: what each benefit and plan contributes per municipality and month,
by the rules of `kpis`, over recorded time; a sheet for any period is a sum of cells."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from stroom_contract.rows import Recorded, RecordedRows, recorded_rows
from stroom_reporting.domain import kpis
from stroom_reporting.domain.months import last_day, month_of, month_range

# Measures: month-end counts are kept as their changes (the count at a month end is the sum of the
# changes up to that month), flows in the month they happen.
P = "P"  # a: change of P's count
K1 = "K1"  # a: change of K1's count, b: of the sum of its benefits' start days (ordinals)
K2 = "K2"  # a: change of mediable clients, b: of those with a current report
K3 = "K3"  # detail: lead days; a: plans, b: their days
K4 = "K4"  # a: outflows to work or education
K5 = "K5"  # detail: end date; a: outflows to work, b: of them returned within 183 days
DOOR = "door"  # detail: outflow reason|new inflow reason; a: back within 6 months, b: within 12
CHANGES = (P, K1, K2)
FLOWS = (K3, K4, K5, DOOR)


class Cell(NamedTuple):
    measure: str
    municipality: str
    month: int
    detail: str
    a: int
    b: int


def benefit_cells(
    benefit: kpis.KpiBenefit,
    clients: kpis.ClientFile | None,
    returns: kpis.Returns | None,
    reach: int = 0,
    until: int | None = None,
    known: kpis.Standing | None = None,
) -> tuple[Cell, ...]:
    """What a benefit contributes to every KPI: P's, K1's and K2's month-end counts as changes, and
    its outflow to K4, K5 and the revolving door; only the month-end counts when `returns` is
    None, only the outflow's when `clients` is None; of the month-end counts only those of the
    months from `reach` on, up to `until` (a month's change reads the month ends of that month and
    the one before only; `known`: its standing at the end of the month before `reach`, as
    `restated_from` reads it from the cells it holds). In the order of their keys (measure,
    municipality, month, detail), each key once, none all zero."""
    municipality = benefit.municipality
    cells: list[Cell] = []
    if clients is not None:
        start = benefit.start_date.toordinal()
        # P's change in a month is that of its month-end count: whether the benefit is in P at
        # the month's end against the month before's, as K1's and K2's are.
        for month, before, now in kpis.standing_changes(benefit, clients, reach, until, known):
            if p := now.population - before.population:
                cells.append(Cell(P, municipality, month, "", p, 0))
            if k1 := now.k1 - before.k1:
                cells.append(Cell(K1, municipality, month, "", k1, k1 * start))
            mediable, current = now.mediable - before.mediable, now.current - before.current
            if mediable or current:
                cells.append(Cell(K2, municipality, month, "", mediable, current))
    end = benefit.end_date
    if end is not None and returns is not None:
        month = month_of(end)
        if kpis.k4_outflows([benefit], month, month):
            cells.append(Cell(K4, municipality, month, "", 1, 0))
        if kpis.k5_outflow(benefit):
            returned = int(kpis.k5_returned(benefit, returns))
            cells.append(Cell(K5, municipality, month, end.isoformat(), 1, returned))
        if benefit.regulation in kpis.KPI_REGULATIONS and (door := kpis.door_cell(benefit, returns)):
            detail = f"{door.outflow_reason}|{door.inflow_reason}"
            cells.append(Cell(DOOR, municipality, month, detail, int(door.within_6m), 1))
    return tuple(sorted(cells))


def restated_from(
    held: Iterable[Cell], reach: int, until: int | None
) -> tuple[list[Cell], list[Cell], kpis.Standing | None]:
    """Of a benefit's month-end cells (`benefit_cells`), those a change restates, of the months
    from `reach` on (up to `until`), and those that stand; and its
    standing at the end of the month before `reach` (None when `reach` is 0), as the cells that
    stand say: P's, K1's and K2's counts there are the sums of their changes before it."""
    stopped: list[Cell] = []
    kept: list[Cell] = []
    p = k1 = mediable = current = 0
    for cell in held:
        month = cell.month
        if month >= reach and (until is None or month <= until):
            stopped.append(cell)
            continue
        kept.append(cell)
        if month < reach:
            if cell.measure == K2:
                mediable += cell.a
                current += cell.b
            elif cell.measure == K1:
                k1 += cell.a
            elif cell.measure == P:
                p += cell.a
    return stopped, kept, kpis.Standing(p > 0, k1 > 0, mediable > 0, current > 0) if reach else None


Assessed = tuple[date, datetime, str, str, bool]  # assessed_on, recorded time, record_id, stream, exempt


def assessments_alike(before: Iterable[Assessed], after: Iterable[Assessed]) -> bool:
    """Whether a person's assessments before and after a change, each in order, read alike
    (kpis.assessment_reading) on every day, as the latest on or before it (the same day: the one
    recorded last, then the greatest record_id): their benefits' month-end counts (P, K1, K2) are
    then the same. An assessment that reads as the one before it changes no day's reading."""
    return _readings(before) == _readings(after)


def _readings(assessments: Iterable[Assessed]) -> list[tuple[date, tuple[bool, bool]]]:
    """The days from which a person's assessments (in order) read otherwise than on the day before."""
    runs = []
    last = kpis.assessment_reading(None)
    for day, _, _, stream, exempt in assessments:
        reading = kpis.assessment_reading((stream, exempt))
        if reading != last:
            runs.append((day, reading))
            last = reading
    return runs


def plan_cells(lead: kpis.LeadTime | None) -> tuple[Cell, ...]:
    """A plan's K3 cell, in the month it was sent and the municipality of its application."""
    if lead is None:
        return ()
    month = month_of(lead.plan.sent_on)
    return (Cell(K3, lead.application.municipality, month, str(lead.days), 1, lead.days),)


def over_recorded_time(
    times: Iterable[datetime],
    cells_at: Callable[[datetime], tuple[Cell, ...]],
    living: dict[Cell, datetime] | None = None,
) -> list[Recorded[Cell]]:
    """The cells as they were known over recorded time: `cells_at` at each moment the inputs
    changed, each cell valid from the first moment that yields it until the first that no longer
    does (`living`: cells valid since the moment given before the first of `times`)."""
    return recorded_rows([(time, time) for time in sorted(set(times))], cells_at, living)


def over_recorded_steps(
    times: Iterable[datetime],
    steps_at: Callable[[datetime], tuple[Iterable[Cell], Iterable[Cell]]],
    living: dict[Cell, datetime],
) -> list[Recorded[Cell]]:
    """`over_recorded_time` given, at each moment the inputs changed, only the cells that stop
    being yielded and those yielded anew (`steps_at`: (gone, came)), so that a moment that changes
    few of many cells costs those few."""
    book = RecordedRows(living)
    for time in sorted(set(times)):
        gone, came = steps_at(time)
        book.step(time, gone, came)
    return book.versions()


def k5_details(report_day: date) -> tuple[str, str]:
    """Two end dates (K5's detail) that stand for every outflow to work decided, and every one
    pending, on the report day: a sheet may sum K5's cells onto these, whatever their end dates."""
    return kpis.k5_last_decided(report_day).isoformat(), report_day.isoformat()


def year_spans(first: int, last: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The months first..last as the whole years among them and the months before and after those:
    (first month, last month) before, (first year, last year), (first month, last month) after;
    a span whose first is past its last holds none."""
    first_year = first // 100 + (first % 100 != 1)
    last_year = last // 100 - (last % 100 != 12)
    if first_year > last_year:
        return (first, last), (first_year, last_year), (last + 1, last)
    return (first, (first_year - 1) * 100 + 12), (first_year, last_year), ((last_year + 1) * 100 + 1, last)


# A scope's summed cells per measure: measure -> (month, detail) -> (a, b), so that a sheet reads
# each measure's cells alone; the months before the first month asked for as month 0 for the changes.
Sums = dict[str, dict[tuple[int, str], tuple[int, int]]]


def month_end_counts(sums: Sums, measure: str, months: Sequence[int]) -> dict[int, tuple[int, int]]:
    """A change measure's counts at the months' ends (ascending), summed from its changes."""
    changes = sorted((month, a, b) for (month, _), (a, b) in sums.get(measure, {}).items())
    counts: dict[int, tuple[int, int]] = {}
    a = b = 0
    index, end = 0, len(changes)
    for month in months:
        while index < end and changes[index][0] <= month:
            _, change_a, change_b = changes[index]
            a, b = a + change_a, b + change_b
            index += 1
        counts[month] = (a, b)
    return counts


def flows(sums: Sums, measure: str, first: int, last: int) -> list[tuple[str, int, int]]:
    """A flow measure's (detail, a, b) over the months first..last."""
    totals: dict[str, tuple[int, int]] = {}
    for (month, detail), (a, b) in sums.get(measure, {}).items():
        if first <= month <= last:
            before = totals.get(detail)
            totals[detail] = (a, b) if before is None else (before[0] + a, before[1] + b)
    return [(detail, a, b) for detail, (a, b) in totals.items()]


def sheet_counts(
    sums: Sums, first: int, last: int, report_day: date, started: int, ended: int, stock: float
) -> kpis.SheetCounts:
    """The counts of one scope's KPI figures for the months first..last from its summed cells
    (holding the changes up to `last` and the flows of first..last); the benchmark rates' counts
    come from the monthly flows."""
    months = month_range(first, last)
    k1_basis, k1_starts = month_end_counts(sums, K1, [last])[last]
    k2_basis, k2_current = month_end_counts(sums, K2, [last])[last]
    population = month_end_counts(sums, P, months)
    lead_days = {int(days): plans for days, plans, _ in flows(sums, K3, first, last) if plans}
    k4_outflow = sum(a for _, a, _ in flows(sums, K4, first, last))
    outcomes = {kpis.SUSTAINED: 0, kpis.RETURNED: 0, kpis.PENDING: 0}
    for end, outflows, returned in flows(sums, K5, first, last):
        if kpis.k5_pending(date.fromisoformat(end), report_day):
            outcomes[kpis.PENDING] += outflows
        else:
            outcomes[kpis.SUSTAINED] += outflows - returned
            outcomes[kpis.RETURNED] += returned
    return kpis.SheetCounts(
        k1_basis * last_day(last).toordinal() - k1_starts,
        k1_basis,
        k2_current,
        k2_basis,
        lead_days,
        k4_outflow,
        statistics.fmean(population[m][0] for m in months),
        outcomes[kpis.SUSTAINED],
        outcomes[kpis.SUSTAINED] + outcomes[kpis.RETURNED],
        outcomes[kpis.PENDING],
        started,
        ended,
        stock,
    )
