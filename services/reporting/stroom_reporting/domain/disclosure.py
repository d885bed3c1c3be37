"""Disclosure control for published tables: small cells suppressed, and enough others with them
that no suppressed value can be recomputed from what is shown.

A table is a set of cells with values and a set of additive constraints between them (each
`sum(coefficient * value) == 0`): for the monthly table `end = begin + inflow - outflow`, a
month's end is the next month's begin, and totals are sums over municipalities and regulations.

Primary suppression hides every cell below the threshold. Secondary suppression then follows
the rule that every constraint containing a suppressed cell contains at least two, and finally
solves the constraints exactly (elimination over the suppressed cells): a suppressed
cell whose value the shown cells fix is uniquely determined, and another cell beside it is
suppressed, until none is.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from stroom_reporting.domain.mutations import TOTAL, MutationRow

K = TypeVar("K", bound=Hashable)

DEFAULT_THRESHOLD = 5
MEASURES = ("begin", "inflow", "outflow", "end")


@dataclass(frozen=True)
class Constraint(Generic[K]):
    """`sum(coefficient * cell) == 0` over its terms."""

    terms: tuple[tuple[K, int], ...]

    @property
    def cells(self) -> tuple[K, ...]:
        return tuple(cell for cell, _ in self.terms)


def suppress(values: Mapping[K, int], constraints: Sequence[Constraint[K]], threshold: int) -> frozenset[K]:
    """The cells to hide: those below `threshold`, and enough others that none of them is
    determined by the shown cells and the constraints."""
    order = {cell: i for i, cell in enumerate(values)}
    by_cell: dict[K, list[int]] = {cell: [] for cell in values}
    for index, constraint in enumerate(constraints):
        for cell in constraint.cells:
            by_cell[cell].append(index)
    hidden = {cell for cell, value in values.items() if value < threshold}

    def cheapest(candidates: Iterable[K]) -> K | None:
        # The smallest shown value loses the least information; ties by table order.
        shown = [c for c in candidates if c not in hidden]
        return min(shown, key=lambda c: (values[c], order[c])) if shown else None

    def pair_up(start: Iterable[K]) -> None:
        pending = [i for cell in start for i in by_cell[cell]]
        while pending:
            constraint = constraints[pending.pop()]
            if sum(cell in hidden for cell in constraint.cells) == 1:
                partner = cheapest(constraint.cells)
                if partner is not None:
                    hidden.add(partner)
                    pending.extend(by_cell[partner])

    def nearest_shown(cell: K) -> K | None:
        """The cheapest shown cell in a constraint of `cell`, or else of the hidden cells
        around it, nearest first: the value followed from shown cells somewhere out there."""
        seen = {cell}
        frontier = [cell]
        while frontier:
            around = [c for f in frontier for i in by_cell[f] for c in constraints[i].cells]
            partner = cheapest(around)
            if partner is not None:
                return partner
            frontier = [c for c in dict.fromkeys(around) if c not in seen]
            seen.update(frontier)
        return None

    pair_up(list(hidden))
    while determined := determined_cells(constraints, hidden):
        added = []
        for cell in sorted(determined, key=order.__getitem__):
            partner = nearest_shown(cell)
            if partner is not None:
                hidden.add(partner)
                added.append(partner)
        if not added:
            # Nothing connected to them is shown any more: only zeros can still follow.
            break
        pair_up(added)
    return frozenset(hidden)


# Elimination runs modulo this prime instead of over the rationals: the constraints' coefficients
# are 0 and ±1 and the determinants of such tables small, so the answers are the same, at a
# tenth of the cost of Fraction arithmetic. The tests check the result over the rationals.
_PRIME = 2**61 - 1


def determined_cells(constraints: Iterable[Constraint[K]], hidden: set[K] | frozenset[K]) -> set[K]:
    """The hidden cells whose value the constraints fix once the shown cells are known.

    Shown cells move to the constant side, so only the hidden cells' coefficients matter: a
    hidden cell is determined exactly when its unit vector lies in the row space of those
    coefficient rows. The rows are kept in reduced echelon form (every pivot column zero in all
    other rows), so a unit vector lies in the space exactly when some row equals it.
    """
    basis: dict[K, dict[K, int]] = {}  # pivot cell -> row with 1 at the pivot
    holding: dict[K, set[K]] = {}  # cell -> pivots of the rows that have it
    for constraint in constraints:
        row: dict[K, int] = {}
        for cell, coefficient in constraint.terms:
            if cell in hidden:
                row[cell] = (row.get(cell, 0) + coefficient) % _PRIME
        row = {c: v for c, v in row.items() if v}
        for pivot in [c for c in row if c in basis]:
            factor = row.get(pivot)
            if factor:
                _add(row, basis[pivot], _PRIME - factor)
        if not row:
            continue
        pivot = next(iter(row))
        inverse = pow(row[pivot], -1, _PRIME)
        row = {c: v * inverse % _PRIME for c, v in row.items()}
        for other in list(holding.get(pivot, ())):
            target = basis[other]
            factor = target.get(pivot)
            if factor:
                _add(target, row, _PRIME - factor, holding, other)
        basis[pivot] = row
        for cell in row:
            holding.setdefault(cell, set()).add(pivot)
    return {pivot for pivot, row in basis.items() if len(row) == 1}


def _add(
    target: dict[K, int],
    row: Mapping[K, int],
    factor: int,
    holding: dict[K, set[K]] | None = None,
    owner: K | None = None,
) -> None:
    """target += factor * row (mod the prime), keeping `holding` (which rows have which cell)."""
    for cell, value in row.items():
        new = (target.get(cell, 0) + factor * value) % _PRIME
        if new:
            if holding is not None and cell not in target:
                holding.setdefault(cell, set()).add(owner)  # type: ignore[arg-type]
            target[cell] = new
        elif cell in target:
            del target[cell]
            if holding is not None:
                holding.get(cell, set()).discard(owner)


# The monthly table's cells: (municipality, regulation, unit, month, measure); `*` a total, month
# 0 the period total.
Cell = tuple[str, str, str, int, str]


def monthly_cells(rows: Iterable[MutationRow]) -> dict[Cell, int]:
    cells: dict[Cell, int] = {}
    for row in rows:
        for measure in MEASURES:
            cells[(row.municipality, row.regulation, row.unit, row.month, measure)] = getattr(row, measure)
    return cells


def monthly_constraints(cells: Iterable[Cell]) -> list[Constraint[Cell]]:
    """What a reader of the monthly table knows about it beyond the figures."""
    present = set(cells)
    keys = sorted({(m, r, u) for m, r, u, _, _ in present})
    months = sorted({month for _, _, _, month, _ in present if month})
    constraints: list[Constraint[Cell]] = []

    def add(*terms: tuple[Cell, int]) -> None:
        if len(terms) > 1 and all(cell in present for cell, _ in terms):
            constraints.append(Constraint(terms))

    for m, r, u in keys:
        for month in [*months, 0]:
            add(((m, r, u, month, "end"), 1), ((m, r, u, month, "begin"), -1),
                ((m, r, u, month, "inflow"), -1), ((m, r, u, month, "outflow"), 1))  # fmt: skip
        for before, after in itertools.pairwise(months):
            add(((m, r, u, before, "end"), 1), ((m, r, u, after, "begin"), -1))
        if months:
            add(((m, r, u, 0, "begin"), 1), ((m, r, u, months[0], "begin"), -1))
            add(((m, r, u, 0, "end"), 1), ((m, r, u, months[-1], "end"), -1))
            for measure in ("inflow", "outflow"):
                add(((m, r, u, 0, measure), 1), *(((m, r, u, month, measure), -1) for month in months))

    municipalities = sorted({m for m, _, _ in keys if m != TOTAL})
    regulations = sorted({r for _, r, _ in keys if r != TOTAL})
    units = sorted({u for _, _, u in keys})
    for u in units:
        for month in [*months, 0]:
            for measure in MEASURES:

                def cell(m: str, r: str, month: int = month, measure: str = measure, u: str = u) -> Cell:
                    return (m, r, u, month, measure)

                for m in municipalities:
                    add((cell(m, TOTAL), 1), *((cell(m, r), -1) for r in regulations))
                for r in regulations:
                    add((cell(TOTAL, r), 1), *((cell(m, r), -1) for m in municipalities))
                add((cell(TOTAL, TOTAL), 1), *((cell(m, TOTAL), -1) for m in municipalities))
                add((cell(TOTAL, TOTAL), 1), *((cell(TOTAL, r), -1) for r in regulations))
                add(
                    (cell(TOTAL, TOTAL), 1),
                    *((cell(m, r), -1) for m in municipalities for r in regulations),
                )
    return constraints


def suppress_monthly(rows: Iterable[MutationRow], threshold: int = DEFAULT_THRESHOLD) -> frozenset[Cell]:
    """The cells of a monthly table (its rows and all its totals) to hide from the public."""
    cells = monthly_cells(rows)
    hidden: set[Cell] = set()
    # No constraint joins benefits and persons: each unit is a table of its own, and elimination
    # grows faster than the table.
    for unit in sorted({cell[2] for cell in cells}):
        part = {cell: value for cell, value in cells.items() if cell[2] == unit}
        hidden |= suppress(part, monthly_constraints(part), threshold)
    return frozenset(hidden)
