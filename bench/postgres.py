"""The PostgreSQL server the benches create their databases on: `STROOM_BENCH_POSTGRES`, the URL
of a database on it (by default the local server's `test`). A server of one's own, with
pg_stat_statements preloaded say, shows per statement what a bench's load costs there."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

import asyncpg

ADMIN_DSN = os.environ.get("STROOM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_SERVER = ADMIN_DSN.rsplit("/", 1)[0]


def server_dsn(database: str) -> str:
    """libpq's URL of `database` on the bench's server."""
    return f"{_SERVER}/{database}"


def engine_url(database: str) -> str:
    """SQLAlchemy's URL of `database` on the bench's server, through asyncpg."""
    return server_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)


# PostgreSQL 15 forces a checkpoint for each DROP DATABASE and waits for it; drops that wait at
# the same time share one, so databases are dropped side by side, not a checkpoint each.
_DROPPING_AT_ONCE = 20


async def drop_databases(names: Iterable[str], admin_dsn: str = ADMIN_DSN) -> None:
    """Drops the databases of `names` on the server of `admin_dsn`, whoever is still connected."""
    slots = asyncio.Semaphore(_DROPPING_AT_ONCE)

    async def drop(database: str) -> None:
        async with slots:
            admin = await asyncpg.connect(admin_dsn)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await admin.close()

    await asyncio.gather(*(drop(database) for database in names))
