"""The consumer restates the KPI cells behind the facts it applies: once it has caught up, nothing
waits and the cells are those of the facts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from conftest import bearer
from running import app_client
from sqlalchemy import func, select

from reporting.integration.consuming import consuming, publish, records_of
from reporting.integration.test_kpi_materialised import _cells
from reporting.samples import sample_facts
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.db import make_engine
from stroom_reporting import tables as t
from stroom_reporting.app import create_app
from stroom_reporting.commands import migrate
from stroom_reporting.repository import apply_facts


async def test_kpi_cells_follow_the_consumed_facts(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    await migrate(url)
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(unique_topic, 1)])
    await publish(broker.bootstrap_servers, unique_topic, records_of(sample_facts()))
    settings = consuming(url, broker.bootstrap_servers, unique_topic)
    engine = make_engine(url)
    try:
        reader = bearer("ops:read", subject="reporting-reader")
        async with app_client(create_app(settings), "http://test", reader) as client:
            consumed: tuple[object, ...] = ()
            for _ in range(200):
                async with engine.connect() as conn:
                    consumed = (
                        await conn.scalar(select(func.count()).select_from(t.entities)),
                        await conn.scalar(select(func.count()).select_from(t.kpi_pending)),
                        await _cells(conn),
                    )
                if consumed[0] and consumed[1] == 0 and consumed[2][0]:
                    break
                await asyncio.sleep(0.1)
            status = (await client.get("/status")).json()["kpi_cells"]
    finally:
        await engine.dispose()
    # The same facts applied to a database of their own, their cells restated in their transaction.
    other = f"sqlite+aiosqlite:///{tmp_path / 'expected.db'}"
    await migrate(other)
    engine = make_engine(other)
    try:
        async with engine.begin() as conn:
            await apply_facts(conn, sample_facts(), datetime.now(UTC))
            expected = await _cells(conn)
    finally:
        await engine.dispose()
    assert consumed[1] == 0
    # Caught up: a batch less than full restated what it left, so no fact waits.
    assert status == {
        "pending": 0,
        "facts_waiting": 0,
        "restated_after_facts": settings.kpi_restate_facts,
        "restated_within_seconds": settings.kpi_restate_seconds,
    }
    assert consumed[2] == expected
    assert expected[0]
