"""Disclosure control of the monthly table: no shown cell below the threshold, and no hidden
cell that a reader could recompute.

The check is independent of the suppression's own constraints: every figure of the table is a
linear function of the underlying flows (each key's opening stock and its monthly inflow and
outflow), found by building the table with the report's own code from unit flows. A hidden
cell can be recomputed exactly when its row lies in the span of the shown cells' rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_reporting.domain import mutations
from stroom_reporting.domain.disclosure import (
    Cell,
    monthly_cells,
    monthly_constraints,
    suppress_monthly,
)

FIRST, LAST = 202401, 202404
OPENING = 202312


def table(keys: Sequence[mutations.Key], flows: list[mutations.FlowTuple]) -> list[mutations.MutationRow]:
    """Every row the monthly report shows, built as reports.monthly builds it."""
    rows = mutations.mutation_rows(keys, flows, FIRST, LAST)
    totals = mutations.totals(rows)
    return [
        *rows,
        *mutations.period_totals(rows),
        *totals["municipality"],
        *totals["regulation"],
        *totals["organisation"],
        *mutations.period_totals(totals["organisation"]),
    ]


def design(keys: Sequence[mutations.Key], months: Sequence[int]) -> dict[Cell, list[int]]:
    """Per cell, its coefficients over the flows: the table of each unit flow, side by side."""
    basis: list[mutations.FlowTuple] = []
    for m, r, u in keys:
        basis.append((m, r, u, OPENING, 1, 0))
        for month in months:
            basis.append((m, r, u, month, 1, 0))
            basis.append((m, r, u, month, 0, 1))
    columns = [monthly_cells(table(keys, [flow])) for flow in basis]
    return {cell: [column[cell] for column in columns] for cell in columns[0]}


class Span:
    """The span of some rows, kept reduced (each pivot column zero in every other row)."""

    def __init__(self, rows: list[list[int]]) -> None:
        self.basis: dict[int, list[Fraction]] = {}
        for row in rows:
            self.add(row)

    def reduce(self, row: list[int]) -> list[Fraction]:
        vector = [Fraction(v) for v in row]
        for pivot, base in self.basis.items():
            if vector[pivot]:
                factor = vector[pivot]
                vector = [a - factor * b for a, b in zip(vector, base, strict=True)]
        return vector

    def add(self, row: list[int]) -> None:
        vector = self.reduce(row)
        pivot = next((i for i, v in enumerate(vector) if v), None)
        if pivot is None:
            return
        vector = [v / vector[pivot] for v in vector]
        for other, base in self.basis.items():
            if base[pivot]:
                factor = base[pivot]
                self.basis[other] = [a - factor * b for a, b in zip(base, vector, strict=True)]
        self.basis[pivot] = vector

    def holds(self, row: list[int]) -> bool:
        return not any(self.reduce(row))


keys_strategy = st.sampled_from(
    [
        [("GM0405", "PW", "persons"), ("GM0405", "IOAW", "persons"), ("GM0420", "PW", "persons"),
         ("GM0420", "IOAW", "persons")],
        [("GM0405", "PW", "persons"), ("GM0420", "PW", "persons"), ("GM0432", "PW", "persons")],
        [("GM0405", "PW", "persons"), ("GM0405", "IOAW", "persons"), ("GM0405", "IOAZ", "persons")],
    ]
)  # fmt: skip


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[mutations.Key], list[mutations.FlowTuple]]:
    keys = draw(keys_strategy)
    months = mutations.month_range(FIRST, LAST)
    flows = []
    for m, r, u in keys:
        flows.append((m, r, u, OPENING, draw(st.integers(0, 40)), 0))
        for month in months:
            # Small figures are the point: many cells near the threshold.
            flows.append((m, r, u, month, draw(st.integers(0, 9)), draw(st.integers(0, 6))))
    return keys, flows


@settings(max_examples=60)
@given(tables())
def test_no_hidden_cell_can_be_recomputed(
    drawn: tuple[list[mutations.Key], list[mutations.FlowTuple]],
) -> None:
    keys, flows = drawn
    rows = table(keys, flows)
    cells = monthly_cells(rows)
    hidden = suppress_monthly(rows, threshold=5)

    assert all(value >= 5 for cell, value in cells.items() if cell not in hidden)
    for constraint in monthly_constraints(cells):
        assert sum(cell in hidden for cell in constraint.cells) != 1, constraint

    coefficients = design(keys, mutations.month_range(FIRST, LAST))
    shown = Span([coefficients[cell] for cell in cells if cell not in hidden])
    for cell in hidden:
        assert not shown.holds(coefficients[cell]), f"{cell} follows from the shown cells"


def test_the_design_matrix_reproduces_the_table() -> None:
    """The independent check is only as good as its linear model of the table."""
    keys = [("GM0405", "PW", "persons"), ("GM0420", "PW", "persons")]
    flows = [("GM0405", "PW", "persons", OPENING, 7, 0), ("GM0420", "PW", "persons", 202402, 3, 1)]
    coefficients = design(keys, mutations.month_range(FIRST, LAST))
    # Per key: its opening stock, then inflow and outflow of each month.
    weights = [7, *[0] * 8, 0, 0, 0, 3, 1, 0, 0, 0, 0]
    for cell, value in monthly_cells(table(keys, flows)).items():
        assert sum(c * w for c, w in zip(coefficients[cell], weights, strict=True)) == value


def test_large_figures_are_shown_and_exact() -> None:
    keys = [("GM0405", "PW", "benefits"), ("GM0420", "PW", "benefits")]
    flows = [
        (m, r, u, month, 20, 10) for m, r, u in keys for month in (OPENING, 202401, 202402, 202403, 202404)
    ]
    assert suppress_monthly(table(keys, flows)) == frozenset()


def test_one_small_cell_takes_others_with_it() -> None:
    keys = [("GM0405", "PW", "benefits"), ("GM0420", "PW", "benefits")]
    flows = [
        (m, r, u, month, 20, 10) for m, r, u in keys for month in (OPENING, 202401, 202402, 202403, 202404)
    ]
    flows.append(("GM0405", "PW", "benefits", 202402, -17, 0))  # inflow 3 in February
    hidden = suppress_monthly(table(keys, flows))
    assert ("GM0405", "PW", "benefits", 202402, "inflow") in hidden
    assert len(hidden) > 1
