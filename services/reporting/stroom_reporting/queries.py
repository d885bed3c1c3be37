"""Every read query of the reporting service; `as_of=None` reads the current versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.dialect import (
    PerEngine,
    among,
    bound_values,
    fetch_rows,
    grouping_sets,
    is_postgres,
    list_position,
    listed,
    member_of,
    notifications,
)
from stroom_platform.recorded import known_at
from stroom_reporting import tables as t
from stroom_reporting.domain import kpi_cells, mutations
from stroom_reporting.domain.families import Assessed
from stroom_reporting.domain.months import next_month, previous_month
from stroom_reporting.domain.mutations import FlowTuple


def active_on(table: Table, day: date) -> ColumnElement[bool]:
    return and_(table.c.start_date <= day, or_(table.c.end_date.is_(None), table.c.end_date > day))


async def _rows(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    municipalities: Sequence[str],
    as_of: datetime | None,
    *conditions: ColumnElement[bool],
) -> list[Any]:
    """The columns of the municipalities' rows valid at `as_of` that meet the conditions."""
    c = table.c
    where = (c.municipality.in_(municipalities), known_at(table, as_of), *conditions)
    return list(await conn.execute(select(*(c[name] for name in columns)).where(*where)))


def _opening_as_zero(month: Any, first: int | ColumnElement[int]) -> Any:
    # Months before the period only make up its opening stock: one row per key, month 0.
    return case((month < first, 0), else_=month)


def _current_flow_rows(
    postgres: bool,
    first: BindParameter[int],
    last: BindParameter[int],
    year: BindParameter[int],
    scope: Callable[[Any], Sequence[ColumnElement[bool]]],
) -> Any:
    """The current flows (municipality, regulation, unit, month, inflow, outflow) that `scope`
    keeps of the months up to `last`, those before `first` as month 0 (the opening): the whole
    years before first's year (bound as `year`) from the year totals, a row a year."""
    y, m = t.year_flows.c, t.monthly.c
    keys = (m.municipality, m.regulation, m.unit)
    return union_all(
        select(
            y.municipality, y.regulation, y.unit, literal(0, Integer).label("month"), y.inflow, y.outflow
        ).where(*scope(y), y.year < year),
        select(*keys, _opening_as_zero(m.month, first).label("month"), m.inflow, m.outflow).where(
            *scope(m), m.month.between(year * 100 + 1, last)
        ),
    ).subquery("current_flows")


def _current_flows(postgres: bool) -> Select[Any]:
    first, last = bindparam("first", type_=Integer), bindparam("last", type_=Integer)

    def scope(c: Any) -> list[ColumnElement[bool]]:
        return [
            among(c.municipality, "municipalities", postgres),
            among(c.regulation, "regulations", postgres),
            among(c.unit, "units", postgres),
        ]

    f = _current_flow_rows(postgres, first, last, bindparam("year", type_=Integer), scope).c
    keys = (f.municipality, f.regulation, f.unit, f.month)
    return select(*keys, func.sum(f.inflow).label("inflow"), func.sum(f.outflow).label("outflow")).group_by(
        *keys
    )


def _flows_as_of(postgres: bool, as_of: datetime) -> Select[Any]:
    """The flows as `_current_flows` gives them, counted from the spells valid at `as_of`."""
    c = t.count_spells.c
    first, last = bindparam("first", type_=Integer), bindparam("last", type_=Integer)
    scope = (
        among(c.municipality, "municipalities", postgres),
        among(c.regulation, "regulations", postgres),
        among(c.unit, "units", postgres),
        known_at(t.count_spells, as_of),
    )
    one, none = literal(1, Integer), literal(0, Integer)
    moves = union_all(
        *(
            select(
                c.municipality,
                c.regulation,
                c.unit,
                _opening_as_zero(month, first).label("month"),
                inflow.label("inflow"),
                outflow.label("outflow"),
            ).where(*scope, month <= last)
            for month, inflow, outflow in ((c.start_month, one, none), (c.end_month, none, one))
        )
    ).subquery("moves")
    keys = (moves.c.municipality, moves.c.regulation, moves.c.unit, moves.c.month)
    return select(
        *keys, func.sum(moves.c.inflow).label("inflow"), func.sum(moves.c.outflow).label("outflow")
    ).group_by(*keys)


# The groupings of the monthly report's figures, in the order of their index (`grouping_set`):
# per key and month, per key over the period, per municipality, per regulation, the organisation
# per month and over the period. A key is the positions of its municipality, regulation and unit
# in the lists asked for: integers group and sort faster than the codes.
FIGURE_SETS = (
    ("m", "r", "u", "month"),
    ("m", "r", "u"),
    ("m", "u", "month"),
    ("r", "u", "month"),
    ("u", "month"),
    ("u",),
)


def _figures(postgres: bool, flows: Select[Any]) -> Select[Any]:
    """Begin, inflow, outflow and end per key (every municipality x regulation x unit listed) and
    month first..last, summed over FIGURE_SETS. The stock runs from the opening (month 0 of the
    flows) over the months; a period's begin is its first month's and its end its last month's."""
    first, last = bindparam("first", type_=Integer), bindparam("last", type_=Integer)
    series = select(first.label("month")).cte("series", recursive=True)
    following = case((series.c.month % 100 == 12, series.c.month + 89), else_=series.c.month + 1)
    series = series.union_all(select(following).where(series.c.month < last))
    months = union_all(select(series.c.month), select(literal(0, Integer).label("month"))).subquery("months")
    lists = [listed(name, postgres) for name in ("municipalities", "regulations", "units")]
    f = flows.subquery("flows")
    grid = lists[0].join(lists[1], true()).join(lists[2], true()).join(months, true())
    found = [
        f.c[name] == rows.c.value
        for name, rows in zip(("municipality", "regulation", "unit"), lists, strict=True)
    ]
    grid = grid.outerjoin(f, and_(*found, f.c.month == months.c.month))
    # Integers: PostgreSQL sums them in bigints, bigints only in numerics.
    inflow = cast(func.coalesce(f.c.inflow, 0), Integer)
    outflow = cast(func.coalesce(f.c.outflow, 0), Integer)
    keys = [list_position(rows) for rows in lists]
    stock = func.sum(inflow - outflow).over(partition_by=keys, order_by=months.c.month, rows=(None, 0))
    running = (
        select(
            *(key.label(name) for key, name in zip(keys, FIGURE_SETS[1], strict=True)),
            months.c.month,
            inflow.label("inflow"),
            outflow.label("outflow"),
            cast(stock, Integer).label("end"),
        )
        .select_from(grid)
        .subquery("running")
    )
    r = running.c
    begin = r.end - r.inflow + r.outflow
    per_month = select(
        r.m,
        r.r,
        r.u,
        r.month,
        begin.label("begin"),
        r.inflow,
        r.outflow,
        r.end,
        case((r.month == first, begin), else_=0).label("first_begin"),
        case((r.month == last, r.end), else_=0).label("last_end"),
    ).where(r.month > 0)
    rows = per_month.cte("per_month")
    # The rows are the first set already; the others are sums of them.
    sums = [
        cast(func.sum(rows.c[name]), BigInteger).label(name)
        for name in ("begin", "inflow", "outflow", "end", "first_begin", "last_end")
    ]
    totals = grouping_sets(rows, FIGURE_SETS[1:], sums, postgres).subquery("totals")
    t_ = totals.c
    figures = union_all(
        select(rows, literal(0, Integer).label("grouping_set")),
        select(*(c for c in t_ if c.name != "grouping_set"), t_.grouping_set + 1),
    ).subquery("figures")
    g = figures.c
    return select(figures).order_by(g.grouping_set, g.m, g.r, g.u, g.month)


_CURRENT_FIGURES = PerEngine(lambda postgres: _figures(postgres, _current_flows(postgres)))


@dataclass(frozen=True)
class FlowsAsked:
    """Which monthly flows a report asks for: every municipality x regulation x unit of the lists
    (a key is the positions in them), the months first..last, as known at `as_of` (now when None)."""

    municipalities: Sequence[str]
    regulations: Sequence[str]
    units: Sequence[str]
    first: int
    last: int
    as_of: datetime | None

    def parameters(self, conn: AsyncConnection) -> dict[str, Any]:
        """The values bound to a statement built once per engine (`among`, `listed`)."""
        lists = {"municipalities": self.municipalities, "regulations": self.regulations, "units": self.units}
        bound = {name: bound_values(conn, values) for name, values in lists.items()}
        return {**bound, "first": self.first, "last": self.last, "year": self.first // 100}


async def monthly_figures(conn: AsyncConnection, asked: FlowsAsked) -> Sequence[Any]:
    """The monthly report's figures per FIGURE_SETS, ordered by set, key and month: the positions
    of the municipality, regulation and unit in their lists (from 0) and the month, NULL where the
    set has none; begin, inflow, outflow, end, first_begin and last_end (a period's begin and end);
    and grouping_set."""
    if not (asked.municipalities and asked.regulations and asked.units):
        return []
    as_of = asked.as_of
    if as_of is None:
        return await fetch_rows(conn, _CURRENT_FIGURES(conn), asked.parameters(conn))
    postgres = is_postgres(conn)
    statement = _figures(postgres, _flows_as_of(postgres, as_of))
    figures: Sequence[Any] = (await conn.execute(statement, asked.parameters(conn))).all()
    return figures


# Built once per engine: each report binds its values to the same statement, which SQLAlchemy
# then finds in its compiled cache instead of building and expanding it again.
_CURRENT_FLOWS = PerEngine(_current_flows)


async def flows(conn: AsyncConnection, asked: FlowsAsked) -> Sequence[FlowTuple]:
    """Inflow and outflow per key and month up to `last`; the months before `first` together
    as month 0 (the opening)."""
    as_of = asked.as_of
    statement = _CURRENT_FLOWS(conn) if as_of is None else _flows_as_of(is_postgres(conn), as_of)
    rows: Sequence[FlowTuple] = (await conn.execute(statement, asked.parameters(conn))).all()
    return rows


def _late_flows(postgres: bool) -> Select[Any]:
    f = t.late_flows.c
    key = (f.municipality, f.regulation, f.unit, f.month, f.recorded_at)
    inflow, outflow = func.sum(f.inflow), func.sum(f.outflow)
    return (
        select(*key, inflow, outflow)
        .where(
            f.lateness >= bindparam("lateness", type_=Integer),
            f.month <= bindparam("last", type_=Integer),
            f.recorded_at > bindparam("since", type_=t.late_flows.c.recorded_at.type),
            among(f.municipality, "municipalities", postgres),
            among(f.regulation, "regulations", postgres),
            among(f.unit, "units", postgres),
        )
        .group_by(*key)
        .having(or_(inflow != 0, outflow != 0))
    )


_LATE_FLOWS = PerEngine(_late_flows)


async def late_flows(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    regulations: Sequence[str],
    units: Sequence[str],
    lateness: int,
    last: int,
    since: datetime,
) -> Sequence[Any]:
    """The net flow changes (municipality, regulation, unit, month, recorded_at, inflow, outflow)
    of months up to `last` recorded after `since` and at least `lateness` months after their
    month: the only ones by which figures known now can differ from those known when the months
    became definitive."""
    lists = {"municipalities": municipalities, "regulations": regulations, "units": units}
    values: dict[str, Any] = {name: bound_values(conn, v) for name, v in lists.items()}
    values |= {"lateness": lateness, "last": last, "since": since}
    return await fetch_rows(conn, _LATE_FLOWS(conn), values)


async def trace(
    conn: AsyncConnection,
    municipality: str,
    regulation: str,
    unit: str,
    measure: str,
    month: int,
    stock_day: date,
    as_of: datetime | None,
) -> list[Any]:
    """The spells behind one figure: benefit refs, and for persons also the client refs."""
    c = t.count_spells.c
    condition = {
        "inflow": c.start_month == month,
        "outflow": c.end_month == month,
    }.get(measure, active_on(t.count_spells, stock_day))
    rows = await conn.execute(
        select(c.entity, c.client_ref)
        .where(
            c.municipality == municipality,
            c.regulation == regulation,
            c.unit == unit,
            known_at(t.count_spells, as_of),
            condition,
        )
        .order_by(c.entity, c.client_ref)
    )
    return list(rows)


async def reasons(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    first: int,
    last: int,
    as_of: datetime | None,
) -> list[tuple[str, str, str, int]]:
    """(municipality, direction, reason, count) of benefits started / ended in the period."""
    c = t.count_spells.c
    scope = and_(c.municipality.in_(municipalities), c.unit == "benefits", known_at(t.count_spells, as_of))
    result: list[tuple[str, str, str, int]] = []
    for direction, month_column, reason in (
        ("inflow", c.start_month, c.inflow_reason),
        ("outflow", c.end_month, c.outflow_reason),
    ):
        rows = await conn.execute(
            select(c.municipality, reason, func.count())
            .where(scope, month_column >= first, month_column <= last)
            .group_by(c.municipality, reason)
        )
        result.extend((muni, direction, code or "unknown", count) for muni, code, count in rows)
    return result


async def count_spells_on(
    conn: AsyncConnection, municipalities: Sequence[str], day: date, as_of: datetime | None
) -> list[Any]:
    columns = (
        "entity",
        "unit",
        "municipality",
        "regulation",
        "start_date",
        "client_ref",
        "role",
        "birth_date",
    )
    return await _rows(conn, t.count_spells, columns, municipalities, as_of, active_on(t.count_spells, day))


def _visible(as_of: datetime | None) -> ColumnElement[bool]:
    r = t.client_records.c
    if as_of is None:
        return r.retracted_at.is_(None)
    return and_(r.recorded_at <= as_of, or_(r.retracted_at.is_(None), r.retracted_at > as_of))


async def latest_on(
    conn: AsyncConnection, kinds: Sequence[str], clients: Sequence[str], day: date, as_of: datetime | None
) -> list[Any]:
    """Per client and type, the latest record on or before `day` (the same day: the one recorded
    last, by its event's time, then the greatest record_id)."""
    r = t.client_records.c
    found: list[Any] = []
    for condition in member_of(conn, r.client_ref, sorted(set(clients))) if clients else []:
        rank = func.row_number().over(
            partition_by=(r.client_ref, r.type),
            order_by=(r.on_date.desc(), r.recorded_at.desc(), r.record_id.desc()),
        )
        ranked = (
            select(
                r.record_id,
                r.client_ref,
                r.type,
                r.on_date,
                r.recorded_at,
                r.client_stream,
                rank.label("rank"),
            )
            .add_columns(
                r.work_obligation_exempt, r.coach_ref, r.payload, r.ladder_step, r.target_step, r.retracted_at
            )
            .where(condition, r.type.in_(kinds), r.on_date <= day, _visible(as_of))
            .subquery()
        )
        found.extend(await conn.execute(select(ranked).where(ranked.c.rank == 1)))
    return found


async def assessments_on(
    conn: AsyncConnection, clients: Sequence[str], day: date, as_of: datetime | None
) -> dict[str, Assessed]:
    """The latest assessment on or before `day` per client (ordered, so the last one wins)."""
    latest: dict[str, Assessed] = {}
    for row in await latest_on(conn, ("assessment",), clients, day, as_of):
        latest[row.client_ref] = Assessed(
            row.on_date, row.ladder_step, row.target_step, row.client_stream, bool(row.work_obligation_exempt)
        )
    return latest


async def coaches_on(
    conn: AsyncConnection, clients: Sequence[str], day: date, as_of: datetime | None
) -> dict[str, str]:
    return {
        row.client_ref: row.coach_ref
        for row in await latest_on(conn, ("coach_assignment",), clients, day, as_of)
    }


SPELLS = {
    "placement": (t.placement_spells, ("entity", "municipality", "kind", "start_date", "end_date")),
    "phase": (
        t.phase_spells,
        ("entity", "municipality", "phase", "start_date", "end_date", "is_last", "outcome"),
    ),
}


async def spells(
    conn: AsyncConnection,
    kind: str,
    municipalities: Sequence[str],
    first_day: date,
    last_day: date,
    as_of: datetime | None,
) -> list[Any]:
    """Placement or phase spells active on `first_day` or started after it up to `last_day` (for
    counts on the days in between)."""
    table, columns = SPELLS[kind]
    c = table.c
    overlapping = (c.start_date <= last_day, or_(c.end_date.is_(None), c.end_date > first_day))
    return await _rows(conn, table, columns, municipalities, as_of, *overlapping)


async def applications(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    first_day: date,
    last_day: date,
    as_of: datetime | None,
) -> list[Any]:
    a = t.applications.c
    columns = ("entity", "municipality", "received_on", "decision", "decided_on")
    in_period = or_(a.received_on.between(first_day, last_day), a.decided_on.between(first_day, last_day))
    return await _rows(conn, t.applications, columns, municipalities, as_of, in_period)


async def changed_months(conn: AsyncConnection, municipalities: Sequence[str], since: datetime) -> list[Any]:
    c = t.monthly.c
    rows = await conn.execute(
        select(c.municipality, c.regulation, c.unit, c.month, c.changed_at)
        .where(c.municipality.in_(municipalities), c.changed_at > since)
        .order_by(c.municipality, c.month, c.regulation, c.unit)
    )
    return list(rows)


async def generation(conn: AsyncConnection) -> int:
    """The read models' generation (repository.move_generation); 0 before any change."""
    found = await conn.scalar(select(t.generation.c.generation).where(t.generation.c.id == 1))
    return int(found or 0)


def generation_moves(
    conn: AsyncConnection, moved: Callable[[], None], ended: Callable[[], None]
) -> AbstractAsyncContextManager[bool]:
    """Calls `moved` for each move of the generation committed while inside, and `ended` when
    `conn` closes; gives whether it listens (not on SQLite). `conn` must stay open and idle."""
    return notifications(conn, t.GENERATION_MOVED, moved, ended)


async def freshness(conn: AsyncConnection) -> list[Any]:
    return list(await conn.execute(select(t.freshness).order_by(t.freshness.c.read_model)))


async def kpi_benefits(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    ended_from: date,
    started_until: date,
    as_of: datetime | None,
) -> list[Any]:
    """Benefit and membership spells not ended before `ended_from` nor started after `started_until`,
    ordered by benefit (KPIs, report 8)."""
    c = t.count_spells.c
    rows = await conn.execute(
        select(
            c.entity,
            c.unit,
            c.municipality,
            c.regulation,
            c.start_date,
            c.end_date,
            c.inflow_reason,
            c.outflow_reason,
            c.client_ref,
            c.role,
            c.birth_date,
        )
        .where(
            c.municipality.in_(municipalities),
            known_at(t.count_spells, as_of),
            c.start_date <= started_until,
            or_(c.end_date.is_(None), c.end_date >= ended_from),
        )
        .order_by(c.entity, c.unit)
    )
    return list(rows.all())


async def plans_sent(conn: AsyncConnection, first: date, last: date, as_of: datetime | None) -> list[Any]:
    r = t.client_records.c
    rows = await conn.execute(
        select(r.record_id, r.client_ref, r.on_date, r.payload).where(
            r.type == "plan", r.on_date.between(first, last), _visible(as_of)
        )
    )
    return list(rows.all())


async def kpi_applications(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    plans: Sequence[tuple[str, str | None]],
    as_of: datetime | None,
) -> list[Any]:
    """The applications that plans (client_ref, named application entity) may link to: the plans'
    clients' and the named ones (once each)."""
    a = t.applications.c
    columns = ("entity", "client_ref", "municipality", "received_on")
    found: dict[str, Any] = {}
    clients = sorted({client for client, _ in plans})
    named = sorted({entity for _, entity in plans if entity})
    for column, values in ((a.client_ref, clients), (a.entity, named)):
        for condition in member_of(conn, column, values) if values else []:
            rows = await _rows(conn, t.applications, columns, municipalities, as_of, condition)
            found.update((row.entity, row) for row in rows)
    return list(found.values())


def _sums(c: Any) -> tuple[Any, Any]:
    # PostgreSQL sums bigints as numeric: back to integers, exact at any size a sheet reaches.
    return cast(func.sum(c.a), BigInteger), cast(func.sum(c.b), BigInteger)


def _kpi_source(as_of: datetime | None) -> tuple[Table, list[ColumnElement[bool]]]:
    """The current totals, or the cells valid at `as_of` (summed they give its totals)."""
    if as_of is None:
        return t.kpi_totals, []
    return t.kpi_cells, [known_at(t.kpi_cells, as_of)]


def _kpi_sums(
    postgres: bool,
    measures: str,
    first: BindParameter[int],
    last: BindParameter[int],
    as_of: datetime | None,
    changes: bool,
    k5_onto: tuple[BindParameter[str], BindParameter[str]] | None = None,
    standing_at: Sequence[BindParameter[int]] = (),
    years: Sequence[BindParameter[int]] = (),
) -> Select[Any]:
    """The sums of the cells of the measures bound as `measures` and the municipalities bound as
    `municipalities` (`among`); with `k5_onto` (the decided and the pending end date), K5's
    outflows summed onto those; with `standing_at` (ascending months), K1's and K2's changes summed
    onto the first of those at or after their month; with `years` (current flows), see
    `_flow_cells`."""
    if years:
        cells = _flow_cells(postgres, measures, first, last, years)
        c, where = cells.c, []
    else:
        table, known = _kpi_source(as_of)
        c = table.c
        span = c.month <= last if changes else c.month.between(first, last)
        where = [
            among(c.municipality, "municipalities", postgres),
            among(c.measure, measures, postgres),
            span,
            *known,
        ]
    month: Any = _opening_as_zero(c.month, first) if changes else first.label("month")
    if standing_at:
        # K1 and K2 are read at a period's last month only: their changes of the months in
        # between would be rows to send and add up for nothing.
        standing = c.measure.in_((kpi_cells.K1, kpi_cells.K2))
        month = case(
            *((and_(standing, c.month <= at), at) for at in standing_at),
            else_=_opening_as_zero(c.month, first),
        ).label("month")
    detail: ColumnElement[str] = c.detail
    if k5_onto is not None:
        # K5's end dates only decide whether an outflow is pending on the report day: summed onto
        # one date for each, a year of them is two rows per municipality.
        decided, pending = k5_onto
        detail = case(
            (and_(c.measure == kpi_cells.K5, c.detail > decided), pending),
            (c.measure == kpi_cells.K5, decided),
            else_=c.detail,
        )
    keys = (c.municipality, c.measure, *((month,) if changes else ()), detail)
    return select(c.municipality, c.measure, month, detail, *_sums(c)).where(*where).group_by(*keys)


def _flow_cells(
    postgres: bool, measures: str, first: BindParameter[int], last: BindParameter[int], years: Sequence[Any]
) -> Any:
    """The current cells of the flow measures bound as `measures` and the municipalities bound as
    `municipalities` in the months first..last (see `_span_rows`; `years`: the bounds between,
    `_SPAN_BOUNDS`)."""
    head_last, first_year, last_year, tail_first = years
    bounds = (first, head_last, first_year, last_year, tail_first, last)
    return union_all(*_span_rows(postgres, t.kpi_year_totals, measures, bounds)).subquery("flow_cells")


# The bounds of a span of months read per year where it can be (kpi_cells.year_spans): its first
# month, the last month before its whole years, their first and last year, the first month after
# them and its last month.
_SPAN_BOUNDS = ("first", "head_last", "first_year", "last_year", "tail_first", "last")


def _span_rows(
    postgres: bool,
    years: Table,
    measures: str,
    bounds: Sequence[BindParameter[int]],
    onto: ColumnElement[int] | None = None,
) -> list[Select[Any]]:
    """The current cells (municipality, measure, detail, a, b) of the measures bound as `measures`
    and the municipalities bound as `municipalities` in a span of months (`bounds`, `_SPAN_BOUNDS`):
    of its whole years from `years`, of its months before and after those from the month totals;
    with `onto`, that as their month too."""
    first, head_last, first_year, last_year, tail_first, last = bounds
    y, m = years.c, t.kpi_totals.c
    # Each span apart, led by its bounds alone: one that is empty is left without a look at the index.
    spans = (
        (y, first_year, last_year, y.year),
        (m, first, head_last, m.month),
        (m, tail_first, last, m.month),
    )
    month = () if onto is None else (onto.label("month"),)
    return [
        select(c.municipality, c.measure, c.detail, c.a, c.b, *month).where(
            low <= high,
            among(c.municipality, "municipalities", postgres),
            among(c.measure, measures, postgres),
            column.between(low, high),
        )
        for c, low, high, column in spans
    ]


def _current_changes(
    postgres: bool, opening: BindParameter[int], last: BindParameter[int], standing_at: Sequence[Any]
) -> Select[Any]:
    """The sums `_kpi_sums` gives of the current change measures with `standing_at` (P's months
    opening..last as they are, those before as month 0; K1's and K2's changes onto the first
    standing month at or after theirs), each span summed onto one month read per year where it
    can be: the months before a sheet's period cost a row a year, not one a month since the
    history began. The spans' bounds are bound as `_change_spans` names them."""
    m = t.kpi_totals.c
    rows = [
        select(m.municipality, m.measure, m.detail, m.a, m.b, m.month).where(
            among(m.municipality, "municipalities", postgres),
            among(m.measure, "population", postgres),
            m.month.between(opening, last),
        )
    ]
    onto = [("population", literal(0, Integer)), *(("standing", at) for at in standing_at)]
    for span, (measures, month) in enumerate(onto):
        bounds = [bindparam(name, type_=Integer) for name in _span_names(f"changes_{span}")]
        rows.extend(_span_rows(postgres, t.kpi_year_changes, measures, bounds, month))
    cells = union_all(*rows).subquery("change_cells")
    c = cells.c
    keys = (c.municipality, c.measure, c.month, c.detail)
    return select(*keys, *_sums(c)).group_by(*keys)


# January of the year 1: no cell's month comes before it.
_EVER = 101


def _change_spans(opening: int, standing_at: Sequence[int]) -> dict[str, int]:
    """The bounds `_current_changes` reads its spans by: P's months before `opening`, and K1's and
    K2's months up to each standing month (ascending) from the one before."""
    spans = [(_EVER, previous_month(opening))]
    spans.extend(zip([_EVER, *(next_month(at) for at in standing_at[:-1])], standing_at, strict=True))
    values: dict[str, int] = {}
    for span, (first, last) in enumerate(spans):
        (_, head_last), (first_year, last_year), (tail_first, _) = kpi_cells.year_spans(first, last)
        bounds = (first, head_last, first_year, last_year, tail_first, last)
        values |= dict(zip(_span_names(f"changes_{span}"), bounds, strict=True))
    return values


def _span_names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{name}" for name in _SPAN_BOUNDS)


async def kpi_sums(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    measures: Sequence[str],
    first: int,
    last: int,
    as_of: datetime | None,
    *,
    changes: bool,
) -> list[Any]:
    """(municipality, measure, month, detail, a, b) of KPI cells summed: of change measures
    (`changes`) every month up to `last`, the months before `first` together as month 0; of flow
    measures the months first..last together as month `first`."""
    bounds = bindparam("first", type_=Integer), bindparam("last", type_=Integer)
    statement = _kpi_sums(is_postgres(conn), "measures", *bounds, as_of, changes)
    values = {"municipalities": municipalities, "measures": measures}
    bound = {name: bound_values(conn, v) for name, v in values.items()}
    rows = await conn.execute(statement, {**bound, "first": first, "last": last})
    return list(rows.all())


async def kpi_sheet_sums(
    conn: AsyncConnection,
    municipalities: Sequence[str],
    opening: int,
    periods: Sequence[tuple[int, int]],
    report_day: date,
    regulations: Sequence[str],
    as_of: datetime | None,
) -> tuple[list[Any], Sequence[FlowTuple]]:
    """The KPI sheet's sums and the benefits' monthly flows of `regulations` from `opening` to the
    last period's end (as `flows`; a current sheet's with the regulations together). Sums are
    (municipality, measure, month, detail, a, b, part): part 0 the change measures up to the last
    period's end from `opening` on (kpi_sums), part i the flow measures of the i-th period (the
    revolving door of the first only), K5's outflows summed onto kpi_cells.k5_details of the report
    day, K1's and K2's changes onto the periods' last months. The current sheet's sums and flows
    come in one round trip: each is a wait on a busy database."""
    last = max(period[1] for period in periods)
    flows_part = len(periods) + 1
    statement = _sheet_statement(is_postgres(conn), len(periods), as_of)
    lists = {
        "municipalities": municipalities,
        "regulations": regulations,
        "changes": kpi_cells.CHANGES,
        "flows": kpi_cells.FLOWS,
        "flows_but_door": [m for m in kpi_cells.FLOWS if m != kpi_cells.DOOR],
        "population": [kpi_cells.P],
        "standing": [kpi_cells.K1, kpi_cells.K2],
    }
    decided, pending = kpi_cells.k5_details(report_day)
    values = {name: bound_values(conn, v) for name, v in lists.items()}
    values |= {"opening": opening, "opening_year": opening // 100, "last": last}
    values |= {"k5_decided": decided, "k5_pending": pending}
    for i, (first, end) in enumerate(periods, 1):
        values |= {f"first_{i}": first, f"last_{i}": end}
    standing_at = sorted(end for _, end in periods)
    for i, end in enumerate(standing_at, 1):
        values[f"standing_{i}"] = end
    if as_of is None:
        values |= _change_spans(opening, standing_at)
        for i, period in enumerate(periods, 1):
            (_, head_last), (first_year, last_year), (tail_first, _) = kpi_cells.year_spans(*period)
            values |= dict(zip(_year_names(i), (head_last, first_year, last_year, tail_first), strict=True))
    if as_of is not None:
        rows = list((await conn.execute(statement, values)).all())
        asked = FlowsAsked(municipalities, regulations, ("benefits",), opening, last, as_of)
        return rows, await flows(conn, asked)
    rows = list(await fetch_rows(conn, statement, values))
    sums = [row for row in rows if row[6] != flows_part]
    moved = [
        (m, regulation, unit, month, a, b)
        for m, regulation, month, unit, a, b, part in rows
        if part == flows_part
    ]
    return sums, moved


# Built once per engine, number of periods and as-of moment, every value bound: SQLAlchemy finds
# the statement in its compiled cache and sends the same text each time (lists given in the
# statement, `IN`, it renders anew at every execution).
@lru_cache(maxsize=16)
def _sheet_statement(postgres: bool, periods: int, as_of: datetime | None) -> CompoundSelect[Any]:
    """kpi_sheet_sums' statement: its parts tagged by number, the flows last (current sheets only)."""
    opening, last = bindparam("opening", type_=Integer), bindparam("last", type_=Integer)
    standing_at = [bindparam(f"standing_{i}", type_=Integer) for i in range(1, periods + 1)]
    changes = (
        _current_changes(postgres, opening, last, standing_at)
        if as_of is None
        else _kpi_sums(postgres, "changes", opening, last, as_of, True, standing_at=standing_at)
    )
    parts: list[tuple[int, Select[Any]]] = [(0, changes)]
    k5_onto = bindparam("k5_decided", type_=String), bindparam("k5_pending", type_=String)
    for i in range(1, periods + 1):
        first, end = bindparam(f"first_{i}", type_=Integer), bindparam(f"last_{i}", type_=Integer)
        measures = "flows" if i == 1 else "flows_but_door"
        years = [bindparam(name, type_=Integer) for name in _year_names(i)] if as_of is None else []
        parts.append((i, _kpi_sums(postgres, measures, first, end, as_of, False, k5_onto, years=years)))
    if as_of is None:
        parts.append((len(parts), _sheet_flows(postgres, opening, last)))
    return union_all(*(part.add_columns(literal(i, Integer).label("part")) for i, part in parts))


def _year_names(period: int) -> tuple[str, ...]:
    """The names of the bounds `_flow_cells` takes for the period numbered `period`."""
    return tuple(f"{name}_{period}" for name in ("head_last", "first_year", "last_year", "tail_first"))


def _sheet_flows(postgres: bool, first: BindParameter[int], last: BindParameter[int]) -> Select[Any]:
    """The benefits' current flows as `flows` reads them, the regulations together (regulation
    TOTAL: the sheet counts every regulation's benefits alike), in the KPI sums' columns (measure:
    the regulation, detail: the unit) to go in their statement; first's year is bound as
    `opening_year`."""

    def scope(c: Any) -> list[ColumnElement[bool]]:
        return [
            among(c.municipality, "municipalities", postgres),
            among(c.regulation, "regulations", postgres),
            c.unit == "benefits",
        ]

    f = _current_flow_rows(postgres, first, last, bindparam("opening_year", type_=Integer), scope).c
    keys = (f.municipality, f.month, f.unit)
    sums = (cast(func.sum(f.inflow), BigInteger), cast(func.sum(f.outflow), BigInteger))
    return select(f.municipality, literal(mutations.TOTAL, String), f.month, f.unit, *sums).group_by(*keys)
