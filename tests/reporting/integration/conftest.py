"""A reporting app on a migrated database holding the sample facts (and random histories)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import bearer, migrated_sqlite_database
from fastapi import FastAPI

from reporting.changes import as_facts
from reporting.histories import random_history
from reporting.samples import sample_facts
from stroom_platform.db import make_engine
from stroom_reporting.app import create_app
from stroom_reporting.commands import migrate
from stroom_reporting.repository import apply_facts
from stroom_reporting.settings import ReportingSettings

HOORN = bearer("reports:read", "reports:read:detail", municipalities=["GM0405"], subject="hoorn")
WHOLE_ORGANISATION = bearer("reports:read", organisation="werksaam-westfriesland", subject="werksaam")
# Bound to no organisation: every municipality, as an analyst of the operator.
EVERYTHING = bearer("reports:read", "reports:read:detail", "ops:read", subject="analyst")


async def loaded_database(url: str) -> str:
    """The database of `url`, with reporting's tables, holding the sample facts."""
    engine = make_engine(url)
    rng = random.Random(11)
    facts = [*sample_facts(), *(random_history(rng, f"benefit:rnd:{i}", 1, 2) for i in range(40))]
    async with engine.begin() as conn:
        await apply_facts(conn, as_facts(facts), datetime.now(UTC))
    await engine.dispose()
    return url


def reporting_app(url: str) -> FastAPI:
    settings = ReportingSettings(DATABASE_URL=url, consume=False)
    return create_app(settings)


async def loaded_sqlite_database(path: Path) -> str:
    """A new SQLite database at `path` holding the sample facts."""
    return await loaded_database(await migrated_sqlite_database(path, migrate))


@pytest.fixture
async def loaded_url(reporting_database: str) -> str:
    return await loaded_database(reporting_database)


@pytest.fixture
async def client(loaded_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = reporting_app(loaded_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=EVERYTHING) as c:
        yield c
    await app.state.runtime.engine.dispose()
