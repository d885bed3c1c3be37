"""Report 1, monthly mutations: begin, inflow, outflow, end per month from flows, and totals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from stroom_reporting.domain.months import month_range

Key = tuple[str, str, str]  # municipality, regulation, unit
TOTAL = "*"


# A flow as a plain tuple too: rows straight from the database need no conversion.
FlowTuple = tuple[str, str, str, int, int, int]


class Flow(NamedTuple):
    municipality: str
    regulation: str
    unit: str
    month: int
    inflow: int
    outflow: int


class MutationRow(NamedTuple):
    """One line of the table; `*` in a key field means "all of them" (a total)."""

    municipality: str
    regulation: str
    unit: str
    month: int
    begin: int
    inflow: int
    outflow: int
    end: int


def mutation_rows(
    keys: Sequence[Key], flows: Iterable[FlowTuple], first: int, last: int
) -> list[MutationRow]:
    """Rows for every key and month first..last. Flows may reach back before `first`:
    they make up the opening stock, so end = begin + inflow - outflow by construction."""
    months = month_range(first, last)
    position = {month: i for i, month in enumerate(months)}
    opening: dict[Key, int] = {}
    # Per key: inflow and outflow per month position, interleaved ([in0, out0, in1, out1, ...]).
    moves: dict[Key, list[int]] = {}
    for municipality, regulation, unit, month, inflow, outflow in flows:
        key = (municipality, regulation, unit)
        if month < first:
            opening[key] = opening.get(key, 0) + inflow - outflow
        elif month <= last:
            acc = moves.get(key)
            if acc is None:
                acc = moves[key] = [0] * (2 * len(months))
            i = 2 * position[month]
            acc[i] += inflow
            acc[i + 1] += outflow
    rows: list[MutationRow] = []
    append = rows.append
    for key in keys:
        stock = opening.get(key, 0)
        acc = moves.get(key)
        municipality, regulation, unit = key
        if acc is None:
            for month in months:
                append(MutationRow(municipality, regulation, unit, month, stock, 0, 0, stock))
            continue
        for i, month in enumerate(months):
            inflow, outflow = acc[2 * i], acc[2 * i + 1]
            end = stock + inflow - outflow
            append(MutationRow(municipality, regulation, unit, month, stock, inflow, outflow, end))
            stock = end
    return rows


def _group(rows: Iterable[MutationRow], municipality: bool, regulation: bool) -> list[MutationRow]:
    """Sums per (municipality or *, regulation or *, unit, month), in first-seen order."""
    sums: dict[tuple[str, str, str, int], list[int]] = {}
    for m, r, unit, month, begin, inflow, outflow, end in rows:
        key = (m if municipality else TOTAL, r if regulation else TOTAL, unit, month)
        acc = sums.get(key)
        if acc is None:
            sums[key] = [begin, inflow, outflow, end]
        else:
            acc[0] += begin
            acc[1] += inflow
            acc[2] += outflow
            acc[3] += end
    return [MutationRow(*k, *v) for k, v in sums.items()]


def totals(rows: Sequence[MutationRow]) -> dict[str, list[MutationRow]]:
    """Per municipality over regulations, per regulation over municipalities, and overall."""
    per_municipality = _group(rows, True, False)
    return {
        "municipality": per_municipality,
        "regulation": _group(rows, False, True),
        "organisation": _group(per_municipality, False, False),
    }


def period_totals(rows: Sequence[MutationRow]) -> list[MutationRow]:
    """The year (period) total column per key: first begin, summed flows, last end; month 0."""
    by_key: dict[Key, list[int]] = {}
    for m, r, unit, month, begin, inflow, outflow, end in rows:
        acc = by_key.get((m, r, unit))
        if acc is None:
            by_key[(m, r, unit)] = [month, begin, inflow, outflow, month, end]
            continue
        if month < acc[0]:
            acc[0], acc[1] = month, begin
        if month > acc[4]:
            acc[4], acc[5] = month, end
        acc[2] += inflow
        acc[3] += outflow
    return [MutationRow(*key, 0, a[1], a[2], a[3], a[5]) for key, a in by_key.items()]


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
