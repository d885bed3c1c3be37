"""Fixtures for real parts: a throwaway PostgreSQL database, SQLite files, an embedded broker."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from stroom_contract.bsn import Pseudonymiser
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.organisations import OrganisationsConfig, load_organisations

ADMIN_DSN = os.environ.get("STROOM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"


@pytest.fixture(scope="session")
def organisations() -> OrganisationsConfig:
    return load_organisations()


@pytest.fixture(scope="session")
def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(PSEUDONYM_KEY.encode())


@pytest.fixture(scope="session")
async def postgres_server_url() -> AsyncIterator[str]:
    """A fresh database per test session, so concurrent runs never see each other's rows."""
    name = f"stroom_t_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        for database in [name, *_CREATED]:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


_CREATED: list[str] = []


async def fresh_postgres_database(server_url: str) -> str:
    """Another empty database on the session's server, for a test that needs a clean slate.

    Dropped with the session's own database at the end of the run.
    """
    name = f"stroom_t_{os.getpid()}_{secrets.token_hex(4)}"
    _CREATED.append(name)
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str) -> str:
    """Each storage test runs on both engines, each time on an empty database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'stroom.db'}"
    return await fresh_postgres_database(postgres_server_url)


@pytest.fixture(scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedBroker]:
    log_file = tmp_path_factory.mktemp("broker") / "tansu.log"
    async with EmbeddedBroker(log_file=log_file) as embedded:
        yield embedded


@pytest.fixture
def unique_topic() -> str:
    return f"t-{secrets.token_hex(4)}"
