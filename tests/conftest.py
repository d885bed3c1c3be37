"""Fixtures for real parts: a throwaway PostgreSQL database, SQLite files, an embedded broker,
and an OAuth issuer of the tests' own whose tokens every service of the run trusts."""

from __future__ import annotations

import asyncio
import atexit
import os
import queue
import random
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiokafka.client
import aiokafka.conn
import aiokafka.consumer.fetcher
import aiokafka.partitioner
import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import settings

from bench.postgres import DROPPING_AT_ONCE, drop_databases
from stroom_caseload import commands as caseload_commands
from stroom_contract.bsn import Pseudonymiser
from stroom_intake import commands as intake_commands
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.issuer import mint_token
from stroom_platform.organisations import OrganisationsConfig, load_organisations
from stroom_reporting import commands as reporting_commands

# The services run in the tests' process while hypothesis draws beside them in a thread, and
# hypothesis takes any move of the global random generator during a draw for a strategy using it
# (a HypothesisDeprecationWarning each time). aiokafka's fetch loops shuffle with that generator
# all the time; a generator of their own keeps the services' randomness apart from the draws.
_SERVICES_RANDOM = random.Random()
aiokafka.client.random = aiokafka.conn.random = _SERVICES_RANDOM
aiokafka.consumer.fetcher.random = aiokafka.partitioner.random = _SERVICES_RANDOM

# One profile for every property test. Hypothesis's default deadline of 200 ms per example
# measures the machine rather than the code: on two cores shared by several pytest workers and
# a PostgreSQL, an ordinary example sometimes takes longer and the test fails without a bug.
# print_blob prints the failing example's reproduce_failure line, so a failure seen in CI can
# be replayed exactly. Tests keep their own max_examples.
settings.register_profile("stroom", deadline=None, print_blob=True)
settings.load_profile("stroom")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `long` first: the workers take tests in this order, so a test of minutes
    starts while the others still have short ones to take, rather than being the run's last."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


ADMIN_DSN = os.environ.get("STROOM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"

# The tests' issuer, configured through the environment as an installation would configure its
# OAuth server, so that every Settings made in the run (and every process it starts) trusts it.
TEST_ISSUER = "urn:stroom:test-issuer"
TEST_AUDIENCE = "stroom"
SIGNING_KEY = Ed25519PrivateKey.generate()
_AUTH_DIR = Path(tempfile.mkdtemp(prefix="stroom-test-issuer-"))
atexit.register(shutil.rmtree, _AUTH_DIR, True)
PUBLIC_KEYS_FILE = _AUTH_DIR / "public.pem"
PUBLIC_KEYS_FILE.write_bytes(
    SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
)
os.environ["STROOM_AUTH_ISSUER"] = TEST_ISSUER
os.environ["STROOM_AUTH_PUBLIC_KEYS_FILE"] = str(PUBLIC_KEYS_FILE)
os.environ["STROOM_AUTH_AUDIENCE"] = TEST_AUDIENCE
os.environ.pop("STROOM_API_TOKENS", None)


def mint(
    *scopes: str,
    organisation: str | None = None,
    municipalities: Iterable[str] | None = None,
    sources: Iterable[str] = (),
    subject: str = "test-client",
    ttl_seconds: int = 24 * 3600,
    **overrides: Any,
) -> str:
    """A token of the tests' issuer with the chosen scopes and bindings; `overrides` replace
    the keyword arguments of `mint_token` (issuer, audience, key, now)."""
    arguments: dict[str, Any] = {
        "subject": subject,
        "scopes": scopes,
        "audience": TEST_AUDIENCE,
        "issuer": TEST_ISSUER,
        "organisation": organisation,
        "municipalities": municipalities,
        "sources": sources,
        "ttl_seconds": ttl_seconds,
    }
    key = overrides.pop("key", SIGNING_KEY)
    arguments.update(overrides)
    return mint_token(key, **arguments)


def bearer(*scopes: str, **claims: Any) -> dict[str, str]:
    """Headers with a fresh token: `client.get(url, headers=bearer("reports:read"))`."""
    return {"Authorization": f"Bearer {mint(*scopes, **claims)}"}


OPERATOR = bearer("ops:read", subject="test-operator")


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
    await asyncio.to_thread(_DROPS.finish)
    await drop_databases([name, *_CREATED, *_DROPS.pending], ADMIN_DSN)


_CREATED: list[str] = []


class _Drops:
    """The tests' own databases, dropped while the next tests run, rather than all at the end of
    the session. PostgreSQL 15 waits for a checkpoint of the whole server at each DROP DATABASE
    (seconds on a shared disk); drops waiting at the same time share one. So they go in groups of
    `DROPPING_AT_ONCE`, one group after another, in a thread of their own."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self._groups: queue.Queue[list[str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failures: list[BaseException] = []

    def release(self, url: str) -> None:
        """The test that had the database of `url` (on either engine) is done with it."""
        if not url.startswith("postgresql"):
            return
        name = url.rsplit("/", 1)[1]
        _CREATED.remove(name)
        self.pending.append(name)
        if len(self.pending) >= DROPPING_AT_ONCE:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drop_groups, daemon=True)
                self._thread.start()
            self._groups.put(self.pending)
            self.pending = []

    def _drop_groups(self) -> None:
        while (names := self._groups.get()) is not None:
            try:
                asyncio.run(drop_databases(names, ADMIN_DSN))
            except BaseException as failure:  # raised again in the session's teardown
                self._failures.append(failure)

    def finish(self) -> None:
        """Waits for the groups given to the thread; raises what failed in one of them."""
        if self._thread is not None:
            self._groups.put(None)
            self._thread.join()
        if self._failures:
            raise self._failures[0]


_DROPS = _Drops()


async def fresh_postgres_database(server_url: str, template: str = "template1") -> str:
    """Another database on the session's server, for a test that needs a clean slate: empty, or
    a copy of `template`.

    Dropped with the session's own database at the end of the run.
    """
    name = f"stroom_t_{os.getpid()}_{secrets.token_hex(4)}"
    _CREATED.append(name)
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


Migrate = Callable[[str], Awaitable[None]]

# A service's migrations run once per test process, into a database of their own; each test
# that needs the service's tables gets a copy of it. PostgreSQL commits every migration apart:
# copying a database takes a tenth of the time caseload's or reporting's migrations do. The
# migrations' own tests still run them on empty databases, as does the test of the tables
# against the migrations.
_MIGRATED_POSTGRES: dict[Migrate, str] = {}
_MIGRATED_SQLITE: dict[Migrate, Path] = {}
_TEMPLATE_DIR = Path(tempfile.mkdtemp(prefix="stroom-test-templates-"))
atexit.register(shutil.rmtree, _TEMPLATE_DIR, True)


async def migrated_postgres_database(server_url: str, migrate: Migrate) -> str:
    """A new database on the session's server at the newest revision of `migrate`'s service."""
    if migrate not in _MIGRATED_POSTGRES:
        template = await fresh_postgres_database(server_url)
        await migrate(template)
        _MIGRATED_POSTGRES[migrate] = template.rsplit("/", 1)[1]
    return await fresh_postgres_database(server_url, _MIGRATED_POSTGRES[migrate])


async def migrated_sqlite_database(path: Path, migrate: Migrate) -> str:
    """A new SQLite database at `path` at the newest revision of `migrate`'s service."""
    if migrate not in _MIGRATED_SQLITE:
        template = _TEMPLATE_DIR / f"{len(_MIGRATED_SQLITE)}.db"
        # Migrated and its engine disposed: its last connection has written its log back.
        await migrate(f"sqlite+aiosqlite:///{template}")
        _MIGRATED_SQLITE[migrate] = template
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_MIGRATED_SQLITE[migrate], path)
    return f"sqlite+aiosqlite:///{path}"


ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str
) -> AsyncIterator[str]:
    """Each storage test runs on both engines, each time on an empty database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'stroom.db'}"
        return
    url = await fresh_postgres_database(postgres_server_url)
    yield url
    _DROPS.release(url)


async def migrated_database(engine: str, tmp_path: Path, server_url: str, migrate: Migrate) -> str:
    """A new database on `engine` (one of ENGINES) at the newest revision of `migrate`'s service."""
    if engine == "sqlite":
        return await migrated_sqlite_database(tmp_path / "stroom.db", migrate)
    return await migrated_postgres_database(server_url, migrate)


def _service_database(service: str, migrate: Migrate) -> Any:
    """The fixture `<service>_database`: on each engine, a new database with `service`'s tables,
    dropped once the test is done with it."""

    @pytest.fixture(params=ENGINES, name=f"{service}_database")
    async def database(
        request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str
    ) -> AsyncIterator[str]:
        url = await migrated_database(request.param, tmp_path, postgres_server_url, migrate)
        yield url
        _DROPS.release(url)

    return database


intake_database = _service_database("intake", intake_commands.migrate)
caseload_database = _service_database("caseload", caseload_commands.migrate)
reporting_database = _service_database("reporting", reporting_commands.migrate)


@pytest.fixture(scope="session")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedBroker]:
    log_file = tmp_path_factory.mktemp("broker") / "tansu.log"
    async with EmbeddedBroker(log_file=log_file) as embedded:
        yield embedded


@pytest.fixture
def unique_topic() -> str:
    return f"t-{secrets.token_hex(4)}"
