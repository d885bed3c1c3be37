"""The PostgreSQL server the benches create their databases on: `STROOM_BENCH_POSTGRES`, the URL
of a database on it (by default the local server's `test`). A server of one's own, with
pg_stat_statements preloaded say, shows per statement what a bench's load costs there."""

from __future__ import annotations

import os

ADMIN_DSN = os.environ.get("STROOM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_SERVER = ADMIN_DSN.rsplit("/", 1)[0]


def server_dsn(database: str) -> str:
    """libpq's URL of `database` on the bench's server."""
    return f"{_SERVER}/{database}"


def engine_url(database: str) -> str:
    """SQLAlchemy's URL of `database` on the bench's server, through asyncpg."""
    return server_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)
