"""Every service's /status reports its database in one shape, `{"reachable": bool}`, read by the
platform: reachable when the status's own reading succeeded, not reachable when it could not."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_cli.contract import openapi
from stroom_cli.runtime import SERVICE_NAMES
from stroom_platform import ops
from stroom_platform.broker import free_port
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_platform.ops import database_status, moment


async def _answer(conn: AsyncConnection) -> int | None:
    return await conn.scalar(text("SELECT 41 + 1"))


async def test_database_status_reads_or_reports_the_database_away(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    try:
        assert await database_status(engine, _answer) == (42, {"reachable": True})
    finally:
        await engine.dispose()
    away = (
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/stroom"
        if is_postgres(database_url)
        else f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'stroom.db'}"
    )
    engine = make_engine(away)
    if not is_postgres(away):
        # Its directory, made with the engine, is gone before the file is ever opened.
        (tmp_path / "gone").rmdir()
    try:
        assert await database_status(engine, _answer) == (None, {"reachable": False})
    finally:
        await engine.dispose()


async def test_an_unreachable_database_is_logged_when_it_goes_and_comes_back_not_per_poll(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    away = [False]

    async def read(conn: AsyncConnection) -> int | None:
        if away[0]:
            raise ConnectionRefusedError("the database is away")
        return await _answer(conn)

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "stroom_platform.ops"]

    engine = make_engine(database_url)
    caplog.set_level(logging.INFO, logger="stroom_platform.ops")
    try:
        assert [await database_status(engine, read) for _ in range(2)] == [(42, {"reachable": True})] * 2
        assert logged() == []
        away[0] = True
        assert [await database_status(engine, read) for _ in range(3)] == [(None, {"reachable": False})] * 3
        assert logged() == ["database niet bereikbaar"]
        away[0] = False
        assert [await database_status(engine, read) for _ in range(3)] == [(42, {"reachable": True})] * 3
        assert logged() == ["database niet bereikbaar", "database weer bereikbaar"]
        away[0] = True
        assert (await database_status(engine, read))[1] == {"reachable": False}
        assert logged() == [
            "database niet bereikbaar",
            "database weer bereikbaar",
            "database niet bereikbaar",
        ]
    finally:
        await engine.dispose()


def test_every_service_documents_the_same_database_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    openapi(tmp_path / "openapi")
    for name in SERVICE_NAMES:
        schemas = json.loads((tmp_path / "openapi" / f"{name}.json").read_text())["components"]["schemas"]
        status = schemas["ServiceStatus"]
        assert {"service", "database"} <= set(status["required"]), name
        assert status["properties"]["database"] == {"$ref": "#/components/schemas/DatabaseStatus"}, name
        assert schemas["DatabaseStatus"]["properties"]["reachable"]["type"] == "boolean", name
        assert schemas["DatabaseStatus"]["required"] == ["reachable"], name


def test_a_status_moment_is_rfc3339_or_null() -> None:
    assert moment(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == "2026-03-29T01:30:00+00:00"
    assert moment(None) is None


async def test_a_slow_status_reading_is_logged_away_only_when_it_lasts(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reading that takes longer than the status may wait: a busy database, not yet one that is away.
    monkeypatch.setattr(ops, "_STATUS_READ_SECONDS", 2.0)
    monkeypatch.setattr(ops, "_SLOW_BEFORE_AWAY_SECONDS", 3600.0)
    slow = [False]

    async def read(conn: AsyncConnection) -> int | None:
        if slow[0]:
            await asyncio.sleep(60)
        return await _answer(conn)

    def warned() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "stroom_platform.ops" and r.levelno >= logging.WARNING
        ]

    engine = make_engine(database_url)
    caplog.set_level(logging.INFO, logger="stroom_platform.ops")
    try:
        assert await database_status(engine, read) == (42, {"reachable": True})
        slow[0] = True
        assert [await database_status(engine, read) for _ in range(2)] == [(None, {"reachable": False})] * 2
        assert warned() == []
        # No answer for longer than the database may be slow: now it is away, said once.
        monkeypatch.setattr(ops, "_SLOW_BEFORE_AWAY_SECONDS", 0.0)
        assert [await database_status(engine, read) for _ in range(2)] == [(None, {"reachable": False})] * 2
        assert warned() == ["database niet bereikbaar"]
        slow[0] = False
        assert await database_status(engine, read) == (42, {"reachable": True})
        assert warned() == ["database niet bereikbaar", "database weer bereikbaar"]
    finally:
        await engine.dispose()
