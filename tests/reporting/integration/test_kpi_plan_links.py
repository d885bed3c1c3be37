"""The plans' links to applications (reporting_kpi_plans), by which an application's fact restates
the K3 cells of its plans: written when they change, left as they are by a restate that finds them
unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.changes import History, as_facts
from reporting.histories import EPOCH
from reporting.samples import record
from stroom_contract.codes import Regulation
from stroom_contract.facts import ApplicationState, ApplicationVersion, Fact, PlanSent
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_reporting import tables as t
from stroom_reporting.repository import apply_facts

SENT = date(2024, 3, 1)


def application(ref: str, revision: int, received: list[date]) -> History:
    """Application `ref` of client c1, received on each day in turn, a day apart in recorded time."""
    versions = [
        ApplicationVersion(
            recorded_from=EPOCH + timedelta(days=i),
            state=ApplicationState(
                client_ref="c1", municipality="GM0405", regulation=Regulation.PW, received_on=day
            ),
        )
        for i, day in enumerate(received)
    ]
    return History(entity=f"application:src:{ref}", revision=revision, versions=versions)


def plan(ref: str, named: str | None, revision: int = 1) -> Fact:
    fact = PlanSent(plan_ref=ref, sent_on=SENT, application_ref=named)
    return record("c1", f"src|{ref}", fact, EPOCH + timedelta(days=1)).model_copy(
        update={"revision": revision}
    )


async def _links(conn: AsyncConnection) -> dict[str, tuple[str, str | None]]:
    p = t.kpi_plans.c
    rows = await conn.execute(select(p.record_id, p.client_ref, p.application))
    return {record_id: (client, named) for record_id, client, named in rows}


async def _row_versions(conn: AsyncConnection) -> dict[str, str]:
    """Each link's row version (PostgreSQL's xmin: the transaction that last wrote it)."""
    rows = await conn.execute(text("SELECT record_id, xmin::text FROM reporting_kpi_plans"))
    return {str(record_id): str(version) for record_id, version in rows}


async def _lead_days(conn: AsyncConnection, record_id: str) -> list[str]:
    c = t.kpi_cells.c
    rows = await conn.execute(select(c.detail).where(c.entity == record_id, c.recorded_to.is_(None)))
    return [detail for (detail,) in rows]


async def test_links_are_written_when_they_change_only(reporting_database: str) -> None:
    engine = make_engine(reporting_database)

    async def apply(*facts: Any) -> None:
        async with engine.begin() as conn:
            await apply_facts(conn, as_facts(list(facts)), datetime.now(UTC))

    await apply(application("a1", 1, [date(2024, 2, 1)]), plan("p1", "a1"), plan("p2", None))
    async with engine.connect() as conn:
        links = await _links(conn)
        assert links == {"src|p1": ("c1", "application:src:a1"), "src|p2": ("c1", None)}
        assert await _lead_days(conn, "src|p1") == ["29"]
        versions = await _row_versions(conn) if is_postgres(conn) else {}
    # Received a week later: both plans (the one naming it, the client's other) are restated.
    await apply(application("a1", 2, [date(2024, 2, 1), date(2024, 2, 8)]))
    async with engine.connect() as conn:
        assert await _lead_days(conn, "src|p1") == ["22"]
        assert await _lead_days(conn, "src|p2") == ["22"]
        assert await _links(conn) == links
        if versions:
            assert await _row_versions(conn) == versions
    # The plan revised to name another application: its link follows.
    await apply(application("a2", 1, [date(2024, 2, 20)]), plan("p1", "a2", revision=2))
    async with engine.connect() as conn:
        assert await _links(conn) == {"src|p1": ("c1", "application:src:a2"), "src|p2": ("c1", None)}
        assert await _lead_days(conn, "src|p1") == ["10"]
    await engine.dispose()
