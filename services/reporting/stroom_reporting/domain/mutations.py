"""Report 1, monthly mutations: begin, inflow, outflow, end per month from flows, and totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from stroom_reporting.domain.months import month_range

Key = tuple[str, str, str]  # municipality, regulation, unit
TOTAL = "*"


@dataclass(frozen=True)
class Flow:
    municipality: str
    regulation: str
    unit: str
    month: int
    inflow: int
    outflow: int


@dataclass(frozen=True)
class MutationRow:
    """One line of the table; `*` in a key field means "all of them" (a total)."""

    municipality: str
    regulation: str
    unit: str
    month: int
    begin: int
    inflow: int
    outflow: int
    end: int


def mutation_rows(keys: Sequence[Key], flows: Iterable[Flow], first: int, last: int) -> list[MutationRow]:
    """Rows for every key and month first..last. Flows may reach back before `first`:
    they make up the opening stock, so end = begin + inflow - outflow by construction."""
    opening: dict[Key, int] = defaultdict(int)
    in_range: dict[tuple[Key, int], tuple[int, int]] = {}
    for flow in flows:
        key = (flow.municipality, flow.regulation, flow.unit)
        if flow.month < first:
            opening[key] += flow.inflow - flow.outflow
        elif flow.month <= last:
            inflow, outflow = in_range.get((key, flow.month), (0, 0))
            in_range[(key, flow.month)] = (inflow + flow.inflow, outflow + flow.outflow)
    rows = []
    months = month_range(first, last)
    for key in keys:
        stock = opening[key]
        for month in months:
            inflow, outflow = in_range.get((key, month), (0, 0))
            rows.append(MutationRow(*key, month, stock, inflow, outflow, stock + inflow - outflow))
            stock += inflow - outflow
    return rows


def _group(
    rows: Iterable[MutationRow], key: Callable[[MutationRow], tuple[str, str, str, int]]
) -> list[MutationRow]:
    sums: dict[tuple[str, str, str, int], list[int]] = {}
    for row in rows:
        acc = sums.setdefault(key(row), [0, 0, 0, 0])
        acc[0] += row.begin
        acc[1] += row.inflow
        acc[2] += row.outflow
        acc[3] += row.end
    return [MutationRow(*k, *v) for k, v in sums.items()]


def totals(rows: Sequence[MutationRow]) -> dict[str, list[MutationRow]]:
    """Per municipality over regulations, per regulation over municipalities, and overall."""
    return {
        "municipality": _group(rows, lambda r: (r.municipality, TOTAL, r.unit, r.month)),
        "regulation": _group(rows, lambda r: (TOTAL, r.regulation, r.unit, r.month)),
        "organisation": _group(rows, lambda r: (TOTAL, TOTAL, r.unit, r.month)),
    }


def period_totals(rows: Sequence[MutationRow]) -> list[MutationRow]:
    """The year (period) total column per key: first begin, summed flows, last end; month 0."""
    by_key: dict[Key, list[MutationRow]] = defaultdict(list)
    for row in rows:
        by_key[(row.municipality, row.regulation, row.unit)].append(row)
    result = []
    for key, key_rows in by_key.items():
        ordered = sorted(key_rows, key=lambda r: r.month)
        result.append(
            MutationRow(
                *key,
                0,
                ordered[0].begin,
                sum(r.inflow for r in ordered),
                sum(r.outflow for r in ordered),
                ordered[-1].end,
            )
        )
    return result


def flow_deltas(
    spells: Iterable[tuple[str, str, str, int, int | None]], sign: int
) -> Mapping[tuple[str, str, str, int], tuple[int, int]]:
    """What spells (municipality, regulation, unit, start month, end month) add to the monthly
    aggregate; `sign` -1 takes them out again."""
    deltas: dict[tuple[str, str, str, int], tuple[int, int]] = {}
    for municipality, regulation, unit, start_month, end_month in spells:
        key = (municipality, regulation, unit, start_month)
        inflow, outflow = deltas.get(key, (0, 0))
        deltas[key] = (inflow + sign, outflow)
        if end_month is not None:
            key = (municipality, regulation, unit, end_month)
            inflow, outflow = deltas.get(key, (0, 0))
            deltas[key] = (inflow, outflow + sign)
    return deltas
