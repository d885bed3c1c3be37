"""Keeps the KPI cells (domain.kpi_cells) in step with the read models: each batch of facts
records the benefits and plans it can have changed (`mark`), and a step of its own behind the
facts (`restate_pending`) computes their cells again over recorded time from the stored read
models, once for all the batches before it, writing only what differs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Select, Table, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_contract.facts import ClientRecord
from stroom_contract.rows import Recorded
from stroom_platform import dialect
from stroom_platform.organisations import OrganisationsConfig
from stroom_reporting import tables as t
from stroom_reporting.domain import kpi_cells, kpis
from stroom_reporting.domain.months import month_of
from stroom_reporting.domain.spells import row_changes

BENEFIT_COLUMNS = (
    "entity",
    "unit",
    "municipality",
    "regulation",
    "start_date",
    "end_date",
    "inflow_reason",
    "outflow_reason",
    "client_ref",
    "role",
    "birth_date",
)
RECORDED = ("recorded_from", "recorded_to")
CELL_COLUMNS = ("entity", *kpi_cells.Cell._fields, *RECORDED)
CELL_KEY = ("measure", "municipality", "month", "detail")
YEAR_KEY = ("measure", "municipality", "year", "detail")
# The records by which a client stands in P, K1 and K2.
STANDING_RECORDS = ("assessment", "progress_report")
RECORD_COLUMNS = (
    "client_ref",
    "type",
    "on_date",
    "recorded_at",
    "retracted_at",
    "record_id",
    "client_stream",
    "work_obligation_exempt",
    "payload",
)
APPLICATION_COLUMNS = ("entity", "client_ref", "municipality", "received_on", *RECORDED)
CHUNK = 2000  # entities per round of reads and writes
# The kinds of what waits in t.kpi_pending: a benefit (with the moments its parts are restated
# from), a plan, a client record whose stored row was replaced.
BENEFIT, PLAN, REVISED = "benefit", "plan", "revised"
PENDING_COLUMNS = ("kind", "key", "standing_since", "outflow_since")
RESTATE_LOCK = 0x4B50495F  # held by whoever restates cells (restate_pending, rebuild): one at a time


def benefits_of(rows: Iterable[Any]) -> list[kpis.KpiBenefit]:
    """Spell rows ordered by entity (`benefits` before `persons`) to one KpiBenefit each."""
    found = (_benefit_of(list(group)) for _, group in groupby(rows, key=lambda r: r.entity))
    return [b for b in found if b is not None]


def _benefit_of(group: Sequence[Any]) -> kpis.KpiBenefit | None:
    """One benefit's spell rows (`benefits_of`) as a KpiBenefit; None without its own row first."""
    if not group or (b := group[0]).unit != "benefits":
        return None
    members = tuple(
        kpis.Member(p.client_ref, p.start_date, p.end_date, p.role == "applicant", p.birth_date)
        for p in group[1:]
    )
    return kpis.KpiBenefit(
        b.entity,
        b.municipality,
        b.regulation,
        b.start_date,
        b.end_date,
        b.inflow_reason,
        b.outflow_reason,
        members,
    )


class Record(NamedTuple):
    """A client record as the KPIs read it, its payload read once; a record of no client stream is
    of the empty one."""

    client_ref: str
    type: str
    on_date: date
    recorded_at: datetime
    retracted_at: datetime | None
    record_id: str
    client_stream: str
    work_obligation_exempt: bool
    long_trajectory: bool


ON_DATE = attrgetter("on_date")


def records_of(rows: Iterable[Any]) -> list[Record]:
    """Client record rows (with RECORD_COLUMNS) as Records."""
    return [
        Record(
            r.client_ref,
            r.type,
            r.on_date,
            r.recorded_at,
            r.retracted_at,
            r.record_id,
            r.client_stream or "",
            bool(r.work_obligation_exempt),
            r.type == "progress_report" and bool(orjson.loads(r.payload).get("long_trajectory")),
        )
        for r in rows
    ]


def client_file(records: Iterable[Record]) -> kpis.ClientFile:
    """The assessments and progress reports among the records."""
    assessments: dict[str, list[tuple[date, kpis.Recorded, Any]]] = defaultdict(list)
    progress: dict[str, list[tuple[date, kpis.Recorded, Any]]] = defaultdict(list)
    for assessment, client, item in _filed(records):
        (assessments if assessment else progress)[client].append(item)
    return kpis.ClientFile.filed(assessments, progress)


def _filed(records: Iterable[Record]) -> Iterable[tuple[bool, str, tuple[date, kpis.Recorded, Any]]]:
    """The assessments and progress reports among the records as a ClientFile files them:
    (assessment or not, client, (day, (recorded, id), what the KPIs read of it))."""
    for r in records:
        if r.type == "assessment":
            yield (
                True,
                r.client_ref,
                (
                    r.on_date,
                    (r.recorded_at, r.record_id),
                    (r.client_stream, r.work_obligation_exempt),
                ),
            )
        elif r.type == "progress_report":
            yield False, r.client_ref, (r.on_date, (r.recorded_at, r.record_id), r.long_trajectory)


def plan_of(row: Any) -> kpis.Plan:
    """A plan record row (record_id, client_ref, on_date, payload) as the KPIs' Plan."""
    payload = orjson.loads(row.payload)
    ref = payload.get("application_ref")
    # A plan names the application by the case system's ref; applications are keyed by source too.
    source = row.record_id.split("|", 1)[0]
    return kpis.Plan(
        f"plan:{source}:{payload['plan_ref']}",
        row.client_ref,
        row.on_date,
        f"application:{source}:{ref}" if ref else None,
    )


def _valid(row: Any, at: datetime) -> bool:
    return bool(row.recorded_from <= at and (row.recorded_to is None or row.recorded_to > at))


def _visible(record: Any, at: datetime) -> bool:
    return bool(record.recorded_at <= at and (record.retracted_at is None or record.retracted_at > at))


def _valid_before(row: Any, at: datetime) -> bool:
    return bool(row.recorded_from < at and (row.recorded_to is None or row.recorded_to >= at))


def _visible_before(record: Any, at: datetime) -> bool:
    return bool(record.recorded_at < at and (record.retracted_at is None or record.retracted_at >= at))


def _times(rows: Iterable[Any], start: str, end: str) -> list[datetime]:
    return [time for r in rows for time in (getattr(r, start), getattr(r, end)) if time is not None]


# A benefit's cells in two parts, each restated only when its own inputs change: its month-end
# counts (its rows, its persons' assessments and progress reports) and its outflow's (its rows,
# its persons' other benefits).
STANDING_MEASURES = frozenset(kpi_cells.CHANGES)
OUTFLOW_MEASURES = frozenset({kpi_cells.K4, kpi_cells.K5, kpi_cells.DOOR})
EVER = datetime.min.replace(tzinfo=UTC)  # restate a part from: the beginning of recorded time


@dataclass(frozen=True, slots=True)
class Since:
    """The recorded moments from which a benefit's parts are restated; None: the part stands. A
    restate restates at least one part, so a Since of neither part is refused."""

    standing: datetime | None
    outflow: datetime | None

    def __post_init__(self) -> None:
        if self.standing is None and self.outflow is None:
            raise ValueError("een uitkering wordt in ten minste één deel herberekend, vanaf een moment")

    @property
    def first(self) -> datetime:
        """The earlier moment a part is restated from."""
        return min(m for m in (self.standing, self.outflow) if m is not None)


def _restated(
    entity: str,
    stored: Sequence[tuple[Any, ...]],
    since: datetime,
    times: Iterable[datetime],
    over: Callable[[list[datetime]], Iterable[Recorded[kpi_cells.Cell]]],
) -> list[tuple[Any, ...]]:
    """A part's rows from its stored ones (CELL_COLUMNS): those that ended before `since` kept,
    those living just before it (`_living`) carried on (closed at it when the inputs no longer
    yield them), and the cells from `since` on that `over` finds at each moment its inputs
    changed (kpi_cells.over_recorded_time). Before `since` the inputs are as they were, so are
    the cells."""
    kept = [row for row in stored if row[-1] is not None and row[-1] < since]
    moments = [since, *(time for time in times if time > since)]
    return [*kept, *_rows(entity, over(moments))]


def _records_at(records: Iterable[Record]) -> dict[datetime, list[Record]]:
    """The records by the moments they came and went: the only moments their visibility changes."""
    found: dict[datetime, list[Record]] = defaultdict(list)
    for r in records:
        found[r.recorded_at].append(r)
        if r.retracted_at is not None:
            found[r.retracted_at].append(r)
    return found


def _living(stored: Sequence[tuple[Any, ...]], since: datetime) -> dict[kpi_cells.Cell, datetime]:
    """The stored cells (CELL_COLUMNS) valid just before `since`, with the moment each began."""
    return {
        kpi_cells.Cell(*row[1:-2]): row[-2]
        for row in stored
        if row[-2] < since and (row[-1] is None or row[-1] >= since)
    }


def _stands_as_before(own: Sequence[Any], records: Sequence[Record], since: datetime) -> bool:
    """Whether the benefit's month-end counts stay as they were from `since` on: its rows did not
    change and the records of its persons that changed are `_after_end` of it."""
    if any(r.recorded_from >= since or (r.recorded_to is not None and r.recorded_to >= since) for r in own):
        return False
    # The benefit's own row comes before its persons' (`_spells`), as benefits_of reads it.
    end = next((r.end_date for r in own if r.unit == "benefits" and _valid(r, since)), None)
    return _after_end(
        end,
        (
            r
            for r in records
            if r.recorded_at >= since or (r.retracted_at is not None and r.retracted_at >= since)
        ),
    )


def _after_end(end: date | None, changed: Iterable[Record]) -> bool:
    """Whether records of a benefit's persons that came or went leave its month-end counts as they
    were: it has ended (`end`), and each is dated on or after that end, where every month end
    finds the benefit ended (a person's return, after the end of an earlier benefit, leaves that
    one's month ends as they were)."""
    return end is not None and all(r.on_date >= end for r in changed)


def _read_alike(
    assessed: Mapping[str, Sequence[kpi_cells.Assessed]],
    changed: Sequence[Record],
    before: Container[str],
    after: Container[str],
) -> bool:
    """Whether a benefit's persons' month-end counts read alike from their assessments (`assessed`,
    per client in order) visible `before` and `after` (their ids): those that came or went
    (`changed`) are assessments, and each of their clients' assessments read alike
    (kpi_cells.assessments_alike)."""
    if any(r.type != "assessment" for r in changed):
        return False
    for client in {r.client_ref for r in changed}:
        theirs = assessed[client]
        if not kpi_cells.assessments_alike(
            [a for a in theirs if a[2] in before], [a for a in theirs if a[2] in after]
        ):
            return False
    return True


def _moved_until(clients: kpis.ClientFile, changed: Iterable[Record]) -> int | None:
    """The last month whose cells of month-end counts can move (None: every month on) when a
    benefit's rows stay as they were and its persons' records, now filed in `clients`, differ from
    those before by the ones that came or went (`changed`): a record is what its client reads of
    its kind from its day until the next day with one of theirs of that kind, a progress report
    no longer than it is current; a month's change reads that month's end and the one before."""
    last = 0
    for r in changed:
        assessment = r.type == "assessment"
        next_day = clients.next_day(assessment, r.client_ref, r.on_date)
        until = None if next_day is None else month_of(next_day)
        if not assessment:
            stale = kpis.report_stale_from(r.on_date)
            until = stale if until is None else min(until, stale)
        if until is None:
            return None
        last = max(last, until)
    return last


def _assessed(assessments: Iterable[Record]) -> Iterable[kpi_cells.Assessed]:
    """The assessments as kpi_cells reads them (as `client_file` gives them to the KPIs)."""
    return (
        (r.on_date, r.recorded_at, r.record_id, r.client_stream, r.work_obligation_exempt)
        for r in assessments
    )


def benefit_cells(
    entity: str,
    spells: dict[str, list[Any]],
    people: dict[str, set[str]],
    records: dict[str, list[Record]],
    organisations: OrganisationsConfig,
    stored: Sequence[tuple[Any, ...]] = (),
    since: Since = Since(EVER, EVER),
    revised: Container[str] = frozenset(),
) -> list[tuple[Any, ...]]:
    """A benefit's cells over recorded time, as kpi_cells rows (its `stored` ones, CELL_COLUMNS,
    kept where `since` says; those that ended before both parts' `since` may be left out of
    `stored` and are then left out of the rows too): its month-end counts from its spell rows
    (every version) and its persons' assessments and progress reports; its outflow's from its rows
    and the other benefits of its persons in its organisation (their returns count for K5 and the
    revolving door). `revised`: the ids of records whose stored row the batch replaced."""
    own = spells.get(entity, [])
    if not any(r.regulation in kpis.KPI_REGULATIONS for r in own):
        return []  # every measure counts the KPI regulations only
    persons = {r.client_ref for r in own if r.client_ref}
    standing = [row for row in stored if row[1] in STANDING_MEASURES]
    outflow = [row for row in stored if row[1] in OUTFLOW_MEASURES]
    its_records = [r for p in sorted(persons) for r in records.get(p, [])]
    standing_since = since.standing
    if standing_since is not None and _stands_as_before(own, its_records, standing_since):
        standing_since = None
    rows = [*(standing if standing_since is None else ()), *(outflow if since.outflow is None else ())]
    if standing_since is not None:
        # Just before `since` the inputs are as they were when the stored cells were computed, so
        # the living cells say how the benefit then stood at each month end.
        # A benefit's records are one per record_id: which are visible is a set of their ids.
        previous = (
            _benefit_of([r for r in own if _valid_before(r, standing_since)]),
            {r.record_id for r in its_records if _visible_before(r, standing_since)},
        )
        living = _living(standing, standing_since)
        # The client file of the records `filed` holds, once one was read from them (then brought
        # in step with those of a step that needs it, the records that came and went moved into it).
        clients: kpis.ClientFile | None = None
        filed: set[str] = set()
        # The cells of the inputs `previous` holds (None: not known), while they are those the
        # stored rows give: a replaced record's row no longer tells how it read before.
        last: tuple[kpi_cells.Cell, ...] | None = (
            None if any(r.record_id in revised for r in its_records) else tuple(living)
        )

        # The cells the recorded rows hold, from one moment to the next.
        held: tuple[kpi_cells.Cell, ...] = tuple(living)
        # Only at these moments does the benefit's version or a record's visibility change.
        own_moments = set(_times(own, *RECORDED))
        records_at = _records_at(its_records)
        by_id = {r.record_id: r for r in its_records}
        # Each person's assessments in order once: those visible before and after a step, asked
        # whether they read alike, are both in order then.
        assessed = {
            client: sorted(_assessed(of_client))
            for client, of_client in _by(
                (r for r in its_records if r.type == "assessment"), lambda r: r.client_ref
            ).items()
        }
        now: tuple[kpis.KpiBenefit | None, set[str]] | None = None

        def file_of(ids: set[str]) -> kpis.ClientFile:
            """The client file of the records `ids`: only those that came or went since the file
            was last asked for are moved into it (a step that stands as before asks for none)."""
            nonlocal clients, filed
            if clients is None:
                clients = client_file(r for r in its_records if r.record_id in ids)
            elif moved := ids ^ filed:
                changed = [by_id[i] for i in moved]
                clients.move(
                    _filed(r for r in changed if r.record_id in ids),
                    _filed(r for r in changed if r.record_id not in ids),
                )
            filed = ids
            return clients

        def standing_step(at: datetime) -> tuple[Sequence[kpi_cells.Cell], Sequence[kpi_cells.Cell]]:
            """The cells that stop and those that start at `at`."""
            nonlocal previous, last, clients, held, now
            if now is None:
                now = (
                    _benefit_of([r for r in own if _valid(r, at)]),
                    {r.record_id for r in its_records if _visible(r, at)},
                )
            else:
                ids = now[1]
                if at in records_at:
                    ids = set(ids)
                    for r in records_at[at]:
                        if _visible(r, at):
                            ids.add(r.record_id)
                        else:
                            ids.discard(r.record_id)
                found = _benefit_of([r for r in own if _valid(r, at)]) if at in own_moments else now[0]
                now = (found, ids)
            found, ids = now
            if found is None:
                gone, held = held, ()
                last = clients = None
                return gone, ()
            changed = list(map(by_id.__getitem__, ids ^ previous[1]))
            # The version is the one before itself at every moment that is not its rows'.
            same = found is previous[0] or found == previous[0]
            stays = last is not None and same
            if stays and (
                _after_end(found.end_date, changed) or _read_alike(assessed, changed, previous[1], ids)
            ):
                previous = (found, ids)
                return (), ()
            file = file_of(ids)
            if same:  # the same version stands where it stood (kpis.standing_kept_before)
                kept = date.max
            else:
                kept = kpis.standing_kept_before(previous[0], found) if previous[0] else date.min
            until = None
            if changed:
                kept = min(kept, *map(ON_DATE, changed))
                if stays:
                    until = _moved_until(file, changed)
            # Month ends before the first day the change can reach stand as they stood, and so do
            # the cells of the months before it, and those after the last it can reach.
            reach = month_of(kept) if kept > date.min and last is not None else 0
            previous = (found, ids)
            # The cells before `reach` stand as they stood: they say how the benefit stands there.
            stopped, kept_cells, known = kpi_cells.restated_from(held, reach, until)
            came = kpi_cells.benefit_cells(found, file, None, reach, until, known)
            last = held = (*kept_cells, *came)
            return stopped, came

        # The moments of the benefit's versions and of every record that came or went.
        times = sorted({*own_moments, *records_at})
        rows += _restated(
            entity,
            standing,
            standing_since,
            times,
            lambda moments: kpi_cells.over_recorded_steps(moments, standing_step, living),
        )
    if since.outflow is not None and any(r.end_date for r in own if r.unit == "benefits"):
        related = sorted({other for p in persons for other in people.get(p, ())} - {entity})
        theirs = [r for other in related for r in spells.get(other, [])]

        def outflow_at(at: datetime) -> tuple[kpi_cells.Cell, ...]:
            found = _benefit_of([r for r in own if _valid(r, at)])
            if found is None or found.end_date is None:
                return ()
            returns = kpis.returns_of(
                found,
                benefits_of(r for r in theirs if _valid(r, at)),
                _organisation(organisations, found.municipality),
            )
            return kpi_cells.benefit_cells(found, None, returns)

        times = sorted({*_times(own, *RECORDED), *_times(theirs, *RECORDED)})
        living_outflow = _living(outflow, since.outflow)
        rows += _restated(
            entity,
            outflow,
            since.outflow,
            times,
            lambda moments: kpi_cells.over_recorded_time(moments, outflow_at, living_outflow),
        )
    return rows


def _organisation(organisations: OrganisationsConfig, municipality: str) -> frozenset[str]:
    """The municipalities of the municipality's organisation (one configured in none: itself)."""
    organisation = organisations.organisation_of.get(municipality)
    if organisation is None:
        return frozenset({municipality})
    return frozenset(m.code for m in organisation.municipalities)


def plan_cells(plan_record: Any, plan: kpis.Plan, applications: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A plan's K3 cell over recorded time, from its record (and it read, `plan_of`) and the
    applications it may be linked to (every version)."""
    times = [*_times([plan_record], "recorded_at", "retracted_at"), *_times(applications, *RECORDED)]

    def cells_at(at: datetime) -> tuple[kpi_cells.Cell, ...]:
        if not _visible(plan_record, at):
            return ()
        linked = kpis.Applications(
            kpis.Application(a.entity, a.client_ref, a.municipality, a.received_on)
            for a in applications
            if _valid(a, at)
        )
        return kpi_cells.plan_cells(linked.lead_time(plan))

    return _rows(plan_record.record_id, kpi_cells.over_recorded_time(times, cells_at))


def _rows(entity: str, cells: Iterable[Any]) -> list[tuple[Any, ...]]:
    return [(entity, *cell, recorded_from, recorded_to) for cell, recorded_from, recorded_to in cells]


def _by(rows: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


async def _select(
    conn: AsyncConnection, table: Any, column: str, values: Iterable[str], wanted: Sequence[str]
) -> list[Any]:
    return await dialect.select_where_in(conn, table, column, sorted(set(values)), wanted)


async def _spells(conn: AsyncConnection, entities: Iterable[str]) -> dict[str, list[Any]]:
    rows = await _select(conn, t.count_spells, "entity", entities, (*BENEFIT_COLUMNS, *RECORDED))
    # benefits_of wants a benefit's own row before its members'.
    rows.sort(key=lambda r: (r.entity, r.unit, r.recorded_from))
    return _by(rows, lambda r: r.entity)


async def _people(conn: AsyncConnection, column: str, values: Iterable[str]) -> list[tuple[str, str]]:
    rows = await _select(conn, t.kpi_people, column, values, ("client_ref", "entity"))
    return [(client, entity) for client, entity in rows]


async def _stored(conn: AsyncConnection, entities: Sequence[str]) -> list[Any]:
    return await _select(conn, t.kpi_cells, "entity", entities, ("id", *CELL_COLUMNS))


async def _stored_since(conn: AsyncConnection, since: Mapping[str, Since]) -> list[Any]:
    """The stored cells of these benefits but those that ended before the earlier moment from
    which a part of theirs is restated: `benefit_cells` would keep them as they are."""
    entities = sorted(since)
    moments = [since[e].first for e in entities]
    return await dialect.select_valid_since(
        conn, t.kpi_cells, "entity", entities, ("id", *CELL_COLUMNS), moments
    )


async def _write(conn: AsyncConnection, stored: Sequence[Any], rows: list[tuple[Any, ...]]) -> None:
    """Replace the `stored` cells (`_stored`) by `rows`, leaving alone those that stay, and move
    the current totals by what became current or stopped being so."""
    changes = row_changes(stored, rows)
    deltas: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])

    def move(row: Sequence[Any], sign: int) -> None:
        delta = deltas[tuple(row[1:5])]
        delta[0] += sign * row[5]
        delta[1] += sign * row[6]

    for _, row in changes.deleted:
        if row[-1] is None:
            move(row, -1)
    for _, to, row in changes.closed:
        if (row[-1] is None) != (to is None):
            move(row, -1 if to is not None else 1)
    for row in changes.inserted:
        if row[-1] is None:
            move(row, 1)
    await dialect.delete_where_in(conn, t.kpi_cells, "id", [i for i, _ in changes.deleted])
    await dialect.update_rows(
        conn, t.kpi_cells, "id", ("recorded_to",), [(i, to) for i, to, _ in changes.closed]
    )
    await dialect.insert_rows(conn, t.kpi_cells, CELL_COLUMNS, changes.inserted)
    # The flows' year sums and the changes' apart: a sheet reads each table for its own measures.
    yearly: dict[Table, dict[tuple[Any, ...], list[int]]] = {
        t.kpi_year_totals: defaultdict(lambda: [0, 0]),
        t.kpi_year_changes: defaultdict(lambda: [0, 0]),
    }
    for (measure, municipality, month, detail), (a, b) in deltas.items():
        of_year = t.kpi_year_totals if measure in kpi_cells.FLOWS else t.kpi_year_changes
        delta = yearly[of_year][(measure, municipality, month // 100, detail)]
        delta[0] += a
        delta[1] += b
    for table, key, moves in [
        (t.kpi_totals, CELL_KEY, deltas),
        *((table, YEAR_KEY, moves) for table, moves in yearly.items()),
    ]:
        # Sorted: concurrent consumers lock the totals' rows in one order and cannot deadlock.
        moved = sorted((*key_of, a, b) for key_of, (a, b) in moves.items() if a or b)
        await dialect.upsert_rows(
            conn,
            table,
            (*key, "a", "b"),
            moved,
            key,
            {"a": f"{table.name}.a + excluded.a", "b": f"{table.name}.b + excluded.b"},
        )


def _persons(
    spells: dict[str, list[Any]], since: Mapping[str, Since], part: Callable[[Since], datetime | None]
) -> set[str]:
    """The persons of the benefits whose `part` is restated."""
    return {
        r.client_ref
        for entity, rows in spells.items()
        if part(since[entity]) is not None
        for r in rows
        if r.client_ref
    }


async def restate_benefits(
    conn: AsyncConnection,
    since: Mapping[str, Since],
    organisations: OrganisationsConfig,
    revised: Container[str] = frozenset(),
) -> None:
    """Compute the parts of these benefits' cells again from the read models, each from the moment
    `since` names, and store what changed. `revised`: the ids of client records whose stored row
    was replaced since the cells were last computed."""
    entities = sorted(since)
    for start in range(0, len(entities), CHUNK):
        chunk = entities[start : start + CHUNK]
        spells = await _spells(conn, chunk)
        # Only the inputs of the parts restated are read.
        assessed = _persons(spells, since, lambda s: s.standing)
        wanted = _persons(spells, since, lambda s: s.outflow)
        people: dict[str, set[str]] = defaultdict(set)
        for client, entity in await _people(conn, "client_ref", wanted):
            people[client].add(entity)
        others = {e for entities_of in people.values() for e in entities_of} - set(spells)
        spells.update(await _spells(conn, others))
        found = await _select(conn, t.client_records, "client_ref", assessed, RECORD_COLUMNS)
        records = _by(records_of(r for r in found if r.type in STANDING_RECORDS), lambda r: r.client_ref)
        stored = await _stored_since(conn, {e: since[e] for e in chunk})
        cells = _by((tuple(row[1:]) for row in stored), lambda row: row[0])
        rows = [
            row
            for entity in chunk
            for row in benefit_cells(
                entity, spells, people, records, organisations, cells.get(entity, []), since[entity], revised
            )
        ]
        await _write(conn, stored, rows)


async def restate_plans(conn: AsyncConnection, record_ids: Sequence[str]) -> None:
    """Compute the K3 cells of these plan records again and store what changed."""
    for start in range(0, len(record_ids), CHUNK):
        chunk = record_ids[start : start + CHUNK]
        plans = [
            r
            for r in await _select(conn, t.client_records, "record_id", chunk, RECORD_COLUMNS)
            if r.type == "plan"
        ]
        read = [plan_of(r) for r in plans]
        named = [p.application for p in read if p.application]
        applications = {
            (a.entity, a.recorded_from): a
            for column, values in (("client_ref", [p.client_ref for p in plans]), ("entity", named))
            for a in await _select(conn, t.applications, column, values, APPLICATION_COLUMNS)
        }
        by_client = _by(applications.values(), lambda a: a.client_ref)
        by_entity = _by(applications.values(), lambda a: a.entity)
        links = [(r.record_id, r.client_ref, p.application) for r, p in zip(plans, read, strict=True)]
        # A restated plan's link nearly always stays as it is: then its row is not written again.
        table = t.kpi_plans.name
        await dialect.upsert_rows(
            conn,
            t.kpi_plans,
            ("record_id", "client_ref", "application"),
            links,
            ("record_id",),
            {"client_ref": "excluded.client_ref", "application": "excluded.application"},
            f"{table}.client_ref <> excluded.client_ref"
            f" OR COALESCE({table}.application, '') <> COALESCE(excluded.application, '')",
        )
        rows = []
        for plan_record, plan in zip(plans, read, strict=True):
            linked = {
                (a.entity, a.recorded_from): a
                for a in [
                    *by_client.get(plan_record.client_ref, []),
                    *by_entity.get(plan.application or "", []),
                ]
            }
            rows.extend(plan_cells(plan_record, plan, list(linked.values())))
        await _write(conn, await _stored(conn, chunk), rows)


async def mark(
    conn: AsyncConnection,
    changed_benefits: Iterable[str],
    persons: Sequence[tuple[str, str]],
    changed_applications: Iterable[str],
    applicants: Iterable[str],
    records: Sequence[ClientRecord],
    changed: Mapping[str, datetime],
    records_changed: Mapping[str, datetime],
    revised: Iterable[str],
) -> None:
    """After a batch's facts were applied (same transaction), record for `restate_pending` what
    they can have changed, given the benefits whose rows changed and their persons (client,
    benefit) in every version now stored, the applications whose rows changed and the persons of
    their rows before and after, the client records stored anew, and the recorded
    moment from which each benefit's rows (`changed`) and each client record (`records_changed`)
    changed, and which of those records replaced a stored row (`revised`): from there, the
    month-end counts of every changed benefit and every benefit of a client whose assessment or
    progress report changed, and the outflow's of every changed benefit and every benefit of their
    persons, before and after (another benefit of the same person is a return for K5 and the
    revolving door); the cells of every plan that changed and every plan of the client of an
    application that changed or naming it. The benefits' persons are stored at once: the next
    batch finds them."""
    benefits = sorted(changed_benefits)
    before = await _people(conn, "entity", benefits)
    after = persons
    await _write_people(conn, before, after)
    standing: dict[str, datetime] = {}
    outflow: dict[str, datetime] = {}
    returns: dict[str, datetime] = {}  # per person, from when their benefits changed
    assessed: dict[str, datetime] = {}  # per person, from when their standing records changed
    for entity, moment in changed.items():
        _earliest(standing, entity, moment)
        _earliest(outflow, entity, moment)
    for client, entity in (*before, *after):
        if entity in changed:
            _earliest(returns, client, changed[entity])
    for r in records:
        if r.fact.type in STANDING_RECORDS:
            _earliest(assessed, r.client_ref, records_changed[r.record_id])
    for client, entity in await _people(conn, "client_ref", {*returns, *assessed}):
        if client in returns:
            _earliest(outflow, entity, returns[client])
        if client in assessed:
            _earliest(standing, entity, assessed[client])
    plans = {r.record_id for r in records if r.fact.type == "plan"}
    for column, values in (("client_ref", set(applicants)), ("application", set(changed_applications))):
        plans.update(
            record_id for (record_id,) in await _select(conn, t.kpi_plans, column, values, ("record_id",))
        )
    pending: list[tuple[str, str, datetime | None, datetime | None]] = [
        *((BENEFIT, e, standing.get(e), outflow.get(e)) for e in {*standing, *outflow}),
        *((PLAN, p, None, None) for p in plans),
        *((REVISED, i, None, None) for i in revised),
    ]
    await dialect.insert_rows(conn, t.kpi_pending, PENDING_COLUMNS, pending)


def _waiting(as_of: datetime | None) -> Select[tuple[str, str]]:
    """The benefits and plans that wait for their cells to be restated (`restate_pending`), each
    once; with `as_of`, those whose cells as of then may change: a benefit restated from a moment
    at or before it, and every plan (which waits without its moment)."""
    c = t.kpi_pending.c
    found = select(c.kind, c.key).where(c.kind != REVISED)
    if as_of is not None:
        found = found.where(or_(c.kind == PLAN, c.standing_since <= as_of, c.outflow_since <= as_of))
    return found


async def waiting(conn: AsyncConnection, as_of: datetime | None = None) -> int:
    """How many benefits and plans wait (`_waiting`)."""
    counted = select(func.count()).select_from(_waiting(as_of).distinct().subquery())
    return int(await conn.scalar(counted) or 0)


async def restating(conn: AsyncConnection, as_of: datetime | None = None) -> bool:
    """Whether any benefit or plan waits (`_waiting`)."""
    return bool(await conn.scalar(select(exists(_waiting(as_of)))))


async def restate_pending(conn: AsyncConnection, organisations: OrganisationsConfig) -> int:
    """Restate what the facts' transactions left pending (`mark`), each benefit and plan once, in
    the caller's transaction; returns how many benefits and plans were restated. One restate at a
    time: two would each move the totals by the same cells."""
    await dialect.lock_transaction(conn, RESTATE_LOCK)
    pending = t.kpi_pending
    found = list(await conn.execute(delete(pending).returning(*(pending.c[c] for c in PENDING_COLUMNS))))
    # A benefit waits once per batch that changed it: each part from the earliest moment of any.
    standing: dict[str, datetime] = {}
    outflow: dict[str, datetime] = {}
    for kind, key, standing_since, outflow_since in found:
        if kind == BENEFIT:
            if standing_since is not None:
                _earliest(standing, key, standing_since)
            if outflow_since is not None:
                _earliest(outflow, key, outflow_since)
    since = {key: Since(standing.get(key), outflow.get(key)) for key in {*standing, *outflow}}
    plans = sorted({key for kind, key, _, _ in found if kind == PLAN})
    await restate_benefits(conn, since, organisations, {key for kind, key, _, _ in found if kind == REVISED})
    await restate_plans(conn, plans)
    return len(since) + len(plans)


async def _write_people(
    conn: AsyncConnection, before: Sequence[tuple[str, str]], after: Sequence[tuple[str, str]]
) -> None:
    """Make the stored persons of benefits (`before`, of every benefit `after` is of) those of
    `after`: a benefit's persons stay as they were nearly always (its versions are kept), so only
    the benefits that lost one are written again and the pairs that are new added."""
    stored = set(before)
    lost = sorted({entity for _, entity in stored.difference(after)})
    await dialect.delete_where_in(conn, t.kpi_people, "entity", lost)
    rewritten = set(lost)
    written = [pair for pair in after if pair not in stored or pair[1] in rewritten]
    await dialect.insert_rows(conn, t.kpi_people, ("client_ref", "entity"), written)


def _earliest(moments: dict[str, datetime], key: str, moment: datetime) -> None:
    moments[key] = min(moment, moments.get(key, moment))


async def rebuild(conn: AsyncConnection, organisations: OrganisationsConfig) -> tuple[int, int]:
    """Every cell computed again from the stored read models (a database that had facts before the
    cells existed); returns the benefits and plans restated. What waits for `restate_pending` is
    left waiting: restated again, it stays as it is."""
    await dialect.lock_transaction(conn, RESTATE_LOCK)
    kept = (t.kpi_cells, t.kpi_totals, t.kpi_year_totals, t.kpi_year_changes, t.kpi_people, t.kpi_plans)
    for table in kept:
        await conn.execute(table.delete())
    c = t.count_spells.c
    pairs = await conn.execute(select(c.client_ref, c.entity).where(c.client_ref.is_not(None)).distinct())
    await dialect.insert_rows(conn, t.kpi_people, ("client_ref", "entity"), [tuple(p) for p in pairs])
    benefits = sorted(
        e for (e,) in await conn.execute(select(c.entity).where(c.unit == "benefits").distinct())
    )
    r = t.client_records.c
    plans = sorted(i for (i,) in await conn.execute(select(r.record_id).where(r.type == "plan")))
    await restate_benefits(conn, {e: Since(EVER, EVER) for e in benefits}, organisations)
    await restate_plans(conn, plans)
    return len(benefits), len(plans)
