"""The audit log on both engines: append-only, hash-chained, serialised, tamper-evident."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_intake.commands import migrate
from stroom_intake.tables import audit as intake_audit
from stroom_platform.audit import AuditLog, HeadFile, head_file
from stroom_platform.audit_chain import GENESIS, Anchor, AuditRecord, chain, verify
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres

BSN = "111222333"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def audit(engine: AsyncEngine) -> AuditLog:
    return AuditLog(engine, intake_audit, "intake")


async def _fill(audit: AuditLog, n: int) -> None:
    for i in range(n):
        await audit.append(
            "detail-inzage", f"trace {i}", "getoond", "lezer-1", "10.0.0.1", {"refs": [f"ps_{i}"]}
        )


async def _tamper(engine: AsyncEngine, statement: str) -> None:
    """What a table owner could do: switch the guard off, change the rows, switch it on again."""
    async with engine.begin() as conn:
        if not is_postgres(engine):
            await conn.execute(text("DROP TRIGGER intake_audit_no_update"))
            await conn.execute(text("DROP TRIGGER intake_audit_no_delete"))
            await conn.execute(text(statement))
        else:
            await conn.execute(text("ALTER TABLE intake_audit DISABLE TRIGGER USER"))
            await conn.execute(text(statement))
            await conn.execute(text("ALTER TABLE intake_audit ENABLE TRIGGER USER"))


async def test_entries_chain_and_verify(audit: AuditLog) -> None:
    await _fill(audit, 5)
    entries = await audit.page(0, 100)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].previous_hash == GENESIS
    assert all(b.previous_hash == a.hash for a, b in itertools.pairwise(entries))
    result = await audit.verify()
    assert result.valid
    assert result.checked == 5
    first = entries[0].document()
    assert first["actor"] == "lezer-1"
    assert first["origin"] == {"client_address": "10.0.0.1", "service": "intake"}
    assert first["detail"] == {"refs": ["ps_0"]}


@pytest.mark.parametrize(
    "statement",
    ["UPDATE intake_audit SET result = 'x'", "DELETE FROM intake_audit WHERE seq = 2"],
)
async def test_changes_are_refused(audit: AuditLog, engine: AsyncEngine, statement: str) -> None:
    await _fill(audit, 3)
    with pytest.raises(DBAPIError, match="alleen aan te vullen"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    assert (await audit.verify()).checked == 3


async def test_truncate_is_refused_on_postgresql(audit: AuditLog, engine: AsyncEngine) -> None:
    if not is_postgres(engine):
        pytest.skip("SQLite has no TRUNCATE; DELETE is refused above")
    await _fill(audit, 1)
    with pytest.raises(DBAPIError, match="alleen aan te vullen"):
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE intake_audit"))


@pytest.mark.parametrize(
    ("statement", "broken", "reason"),
    [
        ("UPDATE intake_audit SET actor = 'iemand-anders' WHERE seq = 3", 3, "inhoud"),
        ("UPDATE intake_audit SET detail = '{\"refs\":[]}' WHERE seq = 2", 2, "inhoud"),
        ("DELETE FROM intake_audit WHERE seq = 3", 4, "ontbreekt"),
        ("UPDATE intake_audit SET hash = previous_hash WHERE seq = 4", 4, "inhoud"),
    ],
)
async def test_tampering_is_detected(
    audit: AuditLog, engine: AsyncEngine, statement: str, broken: int, reason: str
) -> None:
    await _fill(audit, 6)
    await _tamper(engine, statement)
    result = await audit.verify()
    assert not result.valid
    assert result.first_broken == broken
    assert reason in (result.reason or "")


async def test_rewritten_hashes_break_the_next_link(audit: AuditLog, engine: AsyncEngine) -> None:
    """Recomputing a changed entry's own hash does not help: its successor still points at the old one."""
    await _fill(audit, 4)
    entries = await audit.page(0, 10)
    forged = replace(entries[1].record, actor="iemand-anders")
    from stroom_platform.audit_chain import entry_hash

    new_hash = entry_hash(entries[1].previous_hash, 2, entries[1].at, forged)
    await _tamper(
        engine,
        f"UPDATE intake_audit SET actor = 'iemand-anders', hash = '{new_hash}' WHERE seq = 2",
    )
    result = await audit.verify()
    assert result.first_broken == 3
    assert "vorige" in (result.reason or "")


async def test_concurrent_writers_do_not_fork_the_chain(audit: AuditLog, engine: AsyncEngine) -> None:
    other = AuditLog(
        make_engine(str(engine.url.render_as_string(hide_password=False))), intake_audit, "intake"
    )
    try:
        await asyncio.gather(
            *(
                log.append("beheer", f"actie {i}", "gelukt", "admin")
                for i in range(15)
                for log in (audit, other)
            )
        )
    finally:
        await other.engine.dispose()
    entries = await audit.page(0, 100)
    assert [e.seq for e in entries] == list(range(1, 31))
    assert len({e.previous_hash for e in entries}) == 30
    assert (await audit.verify()).valid


async def test_no_bsn_reaches_the_log(audit: AuditLog, engine: AsyncEngine) -> None:
    await audit.append("detail-inzage", f"zoek {BSN}", "getoond", f"user-{BSN}", None, {"q": [f"x{BSN}"]})
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM intake_audit"))).all()
    assert BSN not in repr(rows)
    assert (await audit.verify()).valid


def test_pure_verifier_finds_the_first_broken_entry() -> None:
    from datetime import UTC, datetime

    from stroom_platform.audit_chain import AuditRecord, chain

    entries = []
    previous = None
    for i in range(4):
        previous = chain(
            previous, datetime(2026, 1, 1, tzinfo=UTC), AuditRecord("a", str(i), "r", "s", "intake")
        )
        entries.append(previous)
    assert verify(entries).valid
    entries[2] = replace(entries[2], record=replace(entries[2].record, object="x"))
    assert verify(entries).first_broken == 3


async def test_cutting_off_the_newest_entries_is_detected_by_the_head_file(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    anchored = AuditLog(engine, intake_audit, "intake", head_file(tmp_path, intake_audit, engine))
    await _fill(anchored, 5)
    assert (await anchored.verify()).valid
    assert anchored.head is not None
    assert anchored.head.read() == Anchor(5, (await anchored.page(4, 1))[0].hash)
    await _tamper(engine, "DELETE FROM intake_audit WHERE seq >= 4")
    # The shorter chain is valid in itself: only the head kept outside the database shows the cut.
    assert (await AuditLog(engine, intake_audit, "intake").verify()).valid
    result = await anchored.verify()
    assert not result.valid
    assert result.first_broken == 4
    assert "4 tot en met 5 ontbreken" in (result.reason or "")


def test_the_head_only_moves_forward(tmp_path: Path) -> None:
    head = HeadFile(tmp_path / "audit" / "x.head.json")
    record = AuditRecord("a", "o", "r", "actor", "intake", None, None)
    first = chain(None, datetime.now(UTC), record)
    second = chain(first, datetime.now(UTC), record)
    head.advance(second)
    head.advance(first)  # a slower process that appended before
    assert head.read() == Anchor(2, second.hash)


def test_a_rewritten_entry_at_the_head_is_detected() -> None:
    record = AuditRecord("a", "o", "r", "actor", "intake", None, None)
    first = chain(None, datetime.now(UTC), record)
    assert verify([first], Anchor(1, first.hash)).valid
    result = verify([first], Anchor(1, "0" * 64))
    assert not result.valid
    assert "herschreven" in (result.reason or "")
