"""The statements a caseload batch sends, for tests that count its round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from caseload.history import deliver, simulate
from stroom_caseload.commands import migrate
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import Envelope
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig


def delivered(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> list[Envelope]:
    """Eight months of one municipality as a case system delivers them: late, repeated and
    retracted events among them."""
    raw = simulate(["GM0405"], date(2022, 1, 1), months=8, seed=11)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    return [validator.validate(e) for e in deliver(raw, seed=5)]


@asynccontextmanager
async def statement_log(database_url: str) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """An engine on the migrated database and the list its statements are added to, their
    whitespace collapsed."""
    await migrate(database_url)
    engine = make_engine(database_url)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield engine, statements
    finally:
        await engine.dispose()
