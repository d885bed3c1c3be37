"""The statements a caseload batch sends, for tests that count its round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from asyncpg.connection import LoggedQuery
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.history import deliver, simulate
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import Envelope
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_platform.organisations import OrganisationsConfig


def delivered(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> list[Envelope]:
    """Eight months of one municipality as a case system delivers them: late, repeated and
    retracted events among them."""
    raw = simulate(["GM0405"], date(2022, 1, 1), months=8, seed=11)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    return [validator.validate(e) for e in deliver(raw, seed=5)]


# What asyncpg sends of its own: a type's look-up, and the JIT setting it restores after one.
_DRIVER_OWN = ("WITH RECURSIVE typeinfo_tree", "SELECT set_config('jit'")


@asynccontextmanager
async def statement_log(database_url: str) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """An engine on the database of `database_url`, with caseload's tables, and the list its
    statements are added to, their whitespace collapsed."""
    engine = make_engine(database_url)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    def run_by_driver(query: LoggedQuery) -> None:
        # The statements the dialect runs on asyncpg itself (`fetch_on_driver`), whose
        # arguments are a tuple of values. SQLAlchemy's own executemany (arguments: a list of
        # them) is seen above; the transaction's control (no arguments) is not counted, nor
        # asyncpg's look-up of a type it meets for the first time on a connection.
        statement = " ".join(query.query.split())
        if isinstance(query.args, tuple) and query.args and not statement.startswith(_DRIVER_OWN):
            statements.append(statement)

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.remove_query_logger(run_by_driver)
        driver.add_query_logger(run_by_driver)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    if is_postgres(engine):
        event.listen(engine.sync_engine, "checkout", checked_out)
    try:
        yield engine, statements
    finally:
        await engine.dispose()
