"""A request while a service's database cannot answer is a 503 problem with Retry-After, to be
asked again, never a 500; a statement that fails in a database that does answer stays a fault.

The database goes away as an outage looks to a service: its connections are cut and new ones
refused. The services reach the session's PostgreSQL through a forwarder the test closes, so
the shared server itself is never stopped."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import PSEUDONYM_KEY, bearer, migrated_postgres_database
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from stroom_intake import commands as intake_commands
from stroom_intake.app import create_app as intake_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.broker import free_port
from stroom_platform.db import make_engine
from stroom_platform.dialect import database_away
from stroom_platform.problems import PROBLEM_JSON
from stroom_reporting import commands as reporting_commands
from stroom_reporting.app import create_app as reporting_app
from stroom_reporting.settings import ReportingSettings

EXAMPLE = Path(__file__).parents[1] / "contract" / "examples" / "stroom.benefit.started.v1.json"
ORGANISATION = "werksaam-westfriesland"
READER = bearer("reports:read", "admin", organisation=ORGANISATION, subject="away-reader")
REPORTS = [
    f"/v1/reports/monthly?organisation={ORGANISATION}&from=2024-01&to=2024-12",
    f"/v1/reports/monthly?organisation={ORGANISATION}&from=2024-01&to=2024-12&asOf=2024-06-01T00:00:00Z",
    f"/v1/reports/kpis?organisation={ORGANISATION}&from=2024-01&to=2024-12",
    f"/v1/reports/composition?organisation={ORGANISATION}&stockDate=2024-12-31",
    "/v1/audit",
]


class Forwarder:
    """TCP to a PostgreSQL server, until `cut`: then every connection through it is closed and
    every new one refused."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


@pytest.fixture
async def forwarder(postgres_server_url: str) -> AsyncIterator[Forwarder]:
    url = make_url(postgres_server_url)
    forwarding = Forwarder(url.host or "127.0.0.1", url.port or 5432)
    await forwarding.start()
    yield forwarding
    await forwarding.cut()


def through(url: str, forwarder: Forwarder) -> str:
    return make_url(url).set(port=forwarder.port).render_as_string(hide_password=False)


def client_of(app: FastAPI, headers: dict[str, str]) -> httpx.AsyncClient:
    # An unexpected error's handler re-raises after answering; the answer is what a caller gets.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://stroom", headers=headers)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["title"] == "Database niet bereikbaar"


async def test_reports_asked_while_the_database_is_away_are_503_problems(
    forwarder: Forwarder, postgres_server_url: str
) -> None:
    url = await migrated_postgres_database(postgres_server_url, reporting_commands.migrate)
    app = reporting_app(ReportingSettings(DATABASE_URL=through(url, forwarder), consume=False))
    async with app.router.lifespan_context(app), client_of(app, READER) as client:
        # Asked once before, a report would be answered from memory (it is kept while the read
        # models stand), as long as the service has not yet noticed the database gone.
        assert (await client.get("/v1/audit")).status_code == 200
        await forwarder.cut()
        for path in REPORTS:
            assert_unavailable(await client.get(path))
        # A refusal is answered as ever, also when the audit log cannot take it down.
        async with client_of(app, {}) as anonymous:
            assert (await anonymous.get(REPORTS[0])).status_code == 401
    await app.state.runtime.engine.dispose()


async def test_an_event_posted_while_the_database_is_away_is_not_accepted(
    forwarder: Forwarder, postgres_server_url: str
) -> None:
    """No 202 without the outbox: the case system is told to send it again."""
    url = await migrated_postgres_database(postgres_server_url, intake_commands.migrate)
    app = intake_app(IntakeSettings(pseudonym_key=PSEUDONYM_KEY, DATABASE_URL=through(url, forwarder)))
    writer = bearer("events:write", organisation=ORGANISATION, sources=["gws/werksaam-westfriesland"])
    headers = {**writer, "content-type": "application/cloudevents+json"}
    async with app.router.lifespan_context(app), client_of(app, headers) as client:
        await forwarder.cut()
        assert_unavailable(await client.post("/v1/events", content=EXAMPLE.read_bytes()))
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM intake_events"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_a_statement_that_fails_in_a_database_that_answers_is_no_outage(
    postgres_server_url: str,
) -> None:
    engine = make_engine(postgres_server_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("SELECT 1 / 0"))
    finally:
        await engine.dispose()
    assert not database_away(failed.value)


async def test_a_refused_connection_and_a_locked_sqlite_file_are_outages(tmp_path: Path) -> None:
    nobody = make_url("postgresql+asyncpg://postgres@127.0.0.1/postgres").set(port=free_port())
    engine = make_engine(nobody.render_as_string())
    try:
        with pytest.raises(ConnectionError) as refused:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert database_away(refused.value)
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError) as locked:
        sqlite3.connect(path, timeout=0).execute("SELECT * FROM sqlite_master").fetchall()
    holder.close()
    assert database_away(locked.value)
