"""Read side: projections per municipality on a date, as known now or at an earlier moment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.events import utc
from stroom_caseload.tables import Tables, live
from stroom_platform.recorded import known_at


@dataclass(frozen=True)
# Every query picks, per entity, the state version valid at recorded time `as_of` (the
# current one when `as_of` is None) and then applies the counting rules of reports-v1 on
# day `on`: active when start <= on < end.
class ClientCount:
    municipality: str
    coach_ref: str | None
    client_stream: str | None
    ladder_step: int | None
    clients: int


@dataclass
class Projection:
    """The caseload of one municipality on one day."""

    municipality: str
    on: date
    as_of: datetime | None
    benefits: dict[str, int] = field(default_factory=dict)
    persons: dict[str, int] = field(default_factory=dict)
    placements: dict[str, int] = field(default_factory=dict)
    open_applications: dict[str, int] = field(default_factory=dict)
    trajectories: dict[str, int] = field(default_factory=dict)
    clients: list[ClientCount] = field(default_factory=list)

    def clients_per_coach(self) -> dict[str | None, dict[str | None, int]]:
        counts: dict[str | None, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.clients:
            counts[row.coach_ref][row.client_stream] += row.clients
        return {coach: dict(streams) for coach, streams in counts.items()}


def _running(start: Any, end: Any, on: date) -> ColumnElement[bool]:
    return and_(start <= on, or_(end.is_(None), end > on))


def _running_per(
    table: Table,
    group: str,
    start: str,
    end: str,
    municipality: str,
    on: date,
    as_of: datetime | None,
    *also: ColumnElement[bool],
    count: ColumnElement[Any] | None = None,
) -> Select[Any]:
    """Per value of the `group` column, the municipality's rows of `table` known at `as_of` that
    run on day `on` from their `start` to their `end` column (and meet `also`): the rows, or
    `count` where an entity has several."""
    c = table.c
    return (
        select(c[group], func.count() if count is None else count)
        .where(c.municipality == municipality, known_at(table, as_of), _running(c[start], c[end], on), *also)
        .group_by(c[group])
    )


class CaseloadQueries:
    def __init__(self, conn: AsyncConnection, tables: Tables = live) -> None:
        self.conn = conn
        self.t = tables

    async def _counts(self, stmt: Select[Any]) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in await self.conn.execute(stmt)}

    async def projection(self, municipality: str, on: date, as_of: datetime | None = None) -> Projection:
        as_of = utc(as_of) if as_of else None
        t = self.t
        result = Projection(municipality, on, as_of)
        b, m, p, a, ph = t.benefits, t.members, t.placements, t.applications, t.phases
        result.benefits = await self._counts(
            _running_per(b, "regulation", "start_date", "end_date", municipality, on, as_of)
        )
        result.persons = await self._counts(
            select(m.c.regulation, func.count(m.c.client_ref.distinct()))
            .where(m.c.municipality == municipality, known_at(m, as_of), *self._member_active(on))
            .group_by(m.c.regulation)
        )
        result.placements = await self._counts(
            _running_per(p, "kind", "start_date", "end_date", municipality, on, as_of)
        )
        result.open_applications = await self._counts(
            _running_per(a, "regulation", "received_on", "decided_on", municipality, on, as_of)
        )
        result.trajectories = await self._counts(
            _running_per(
                ph,
                "phase",
                "effective_date",
                "until",
                municipality,
                on,
                as_of,
                or_(ph.c.end_date.is_(None), ph.c.end_date > on),
                count=func.count(ph.c.entity_key.distinct()),
            )
        )
        result.clients = await self.clients([municipality], on, as_of)
        return result

    def _member_active(self, on: date) -> list[ColumnElement[bool]]:
        m = self.t.members
        return [_running(m.c.start_date, m.c.end_date, on), _running(m.c.joined_on, m.c.left_on, on)]

    def _latest(self, client_ref: Any, fact_type: str, on: date, as_of: datetime | None, column: Any) -> Any:
        """A column of the client's newest visible fact of a type on or before `on` (one index probe)."""
        cf = self.t.client_facts
        visible = [cf.c.client_ref == client_ref, cf.c.type == fact_type, cf.c.effective_date <= on]
        if as_of is None:
            visible.append(cf.c.retracted_at.is_(None))
        else:
            visible += [
                cf.c.recorded_at <= as_of,
                or_(cf.c.retracted_at.is_(None), cf.c.retracted_at > as_of),
            ]
        return (
            select(column)
            .where(*visible)
            .order_by(cf.c.effective_date.desc(), cf.c.recorded_at.desc(), cf.c.record_id.desc())
            .limit(1)
            .scalar_subquery()
        )

    async def clients(
        self,
        municipalities: Sequence[str],
        on: date,
        as_of: datetime | None = None,
        coach_ref: str | None = None,
    ) -> list[ClientCount]:
        """Active clients (members of a running benefit) by coach, client stream and ladder step."""
        as_of = utc(as_of) if as_of else None
        m, cf = self.t.members, self.t.client_facts
        active = (
            select(m.c.municipality, m.c.client_ref)
            .where(m.c.municipality.in_(municipalities), known_at(m, as_of), *self._member_active(on))
            .distinct()
            .subquery()
        )
        ref = active.c.client_ref
        per_client = select(
            active.c.municipality,
            self._latest(ref, "coach_assignment", on, as_of, cf.c.coach_ref).label("coach_ref"),
            self._latest(ref, "assessment", on, as_of, cf.c.client_stream).label("client_stream"),
            self._latest(ref, "assessment", on, as_of, cf.c.ladder_step).label("ladder_step"),
        ).subquery()
        group = (
            per_client.c.municipality,
            per_client.c.coach_ref,
            per_client.c.client_stream,
            per_client.c.ladder_step,
        )
        stmt = select(*group, func.count()).group_by(*group)
        if coach_ref is not None:
            stmt = stmt.where(per_client.c.coach_ref == literal(coach_ref))
        return [
            ClientCount(row[0], row[1], row[2], row[3], int(row[4])) for row in await self.conn.execute(stmt)
        ]
