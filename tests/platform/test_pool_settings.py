"""Every service's PostgreSQL pools take their sizes from STROOM_DATABASE_POOL_SIZE and
STROOM_DATABASE_MAX_OVERFLOW (deploy/SCALING.md counts the connections they add up to)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import PSEUDONYM_KEY
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from stroom_caseload.runtime import CaseloadRuntime, applying_engine
from stroom_caseload.settings import CaseloadSettings
from stroom_cli.audit import audit_log
from stroom_intake.runtime import IntakeRuntime
from stroom_intake.settings import IntakeSettings
from stroom_platform.organisations import load_organisations
from stroom_reporting.runtime import ReportingRuntime
from stroom_reporting.settings import ReportingSettings

ROOT = Path(__file__).resolve().parents[2]

# Engines connect when first used, so no database needs to answer here.
URL = "postgresql+asyncpg://stroom@127.0.0.1:5432/stroom"


def _pool(engine: AsyncEngine) -> tuple[int, int]:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    # QueuePool shows its overflow limit only privately; its size publicly.
    return pool.size(), pool._max_overflow


@pytest.fixture
def pool_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("STROOM_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("STROOM_DATABASE_MAX_OVERFLOW", "2")


@pytest.mark.usefixtures("pool_settings")
async def test_the_pool_settings_reach_every_services_engines() -> None:
    organisations = load_organisations()
    intake = IntakeRuntime.from_settings(IntakeSettings(pseudonym_key=PSEUDONYM_KEY))
    caseload = CaseloadRuntime.from_settings(CaseloadSettings(), organisations)
    reporting = ReportingRuntime.from_settings(ReportingSettings(consume=False), organisations)
    engines = [intake.engine, caseload.engine, reporting.engine, reporting.reads]
    try:
        assert len({id(engine) for engine in engines}) == 4
        assert [_pool(engine) for engine in engines] == [(3, 2)] * 4
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.usefixtures("pool_settings")
async def test_the_caseload_consumer_holds_one_connection_whatever_the_pool_settings() -> None:
    # Its transactions run one at a time on one connection (LockingTransactions): a pool of the
    # configured size would let each worker count as many against max_connections.
    engine = applying_engine(CaseloadSettings())
    try:
        assert _pool(engine) == (1, 0)
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("pool_settings")
async def test_the_pool_settings_reach_the_engines_of_commands_and_the_cli() -> None:
    engines = [CaseloadSettings().database_engine("caseload"), audit_log("intake").engine]
    try:
        assert [_pool(engine) for engine in engines] == [(3, 2)] * 2
    finally:
        for engine in engines:
            await engine.dispose()


def test_no_engine_is_made_around_the_settings() -> None:
    # Engines made straight from a URL (the rebuild's, the commands' and the CLI's were) keep the
    # default pool whatever the settings say. The settings make them; the platform's reading
    # engine takes the pool it is given, and a migration holds one connection.
    allowed = {
        Path("shared/stroom_platform/settings.py"),
        Path("shared/stroom_platform/dialect/engines.py"),
        Path("shared/stroom_platform/db.py"),
    }
    callers = set()
    for top in ("services", "shared"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "make_engine":
                    callers.add(path.relative_to(ROOT))
    assert callers == allowed


def test_the_pool_defaults_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (CaseloadSettings().database_pool_size, CaseloadSettings().database_max_overflow) == (10, 10)
    monkeypatch.setenv("STROOM_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ValueError, match="database_pool_size"):
        CaseloadSettings()
