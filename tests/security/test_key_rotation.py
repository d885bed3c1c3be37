"""Pseudonymisation key rotation: a history under key v1, `stroom pseudonyms rotate`, and new
events under v2 for the same BSNs land on the same persons in all three services."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from caseload.history import simulate
from sqlalchemy import String, Text, select
from typer.testing import CliRunner

from stroom_caseload.commands import migrate as caseload_migrate
from stroom_caseload.service import apply_events
from stroom_caseload.tables import live
from stroom_caseload.tables import metadata as caseload_metadata
from stroom_cli.audit import audit_log
from stroom_cli.main import app
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_intake.commands import migrate as intake_migrate
from stroom_intake.domain.reading import Position, RawEvent
from stroom_intake.service import Ingestor
from stroom_intake.tables import metadata as intake_metadata
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig
from stroom_reporting.commands import migrate as reporting_migrate
from stroom_reporting.consumer import FACT_ADAPTER
from stroom_reporting.repository import apply_facts
from stroom_reporting.tables import metadata as reporting_metadata

REF = re.compile(r"ps_[0-9a-f]{32}(?![0-9a-f])")
METADATA = {"intake": intake_metadata, "caseload": caseload_metadata, "reporting": reporting_metadata}


def bsns_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["bsn"]} if isinstance(value.get("bsn"), str) else set()
        return found.union(*(bsns_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(bsns_in(v) for v in value))
    return set()


async def load(
    url: str, raw: list[dict[str, Any]], pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> dict[str, int]:
    """The events through intake, caseload and (as facts) reporting, as the chain would."""
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(url)
    try:
        report = await Ingestor(engine, validator).ingest(
            [RawEvent(Position(i), event) for i, event in enumerate(raw)]
        )
        async with engine.begin() as conn:
            applied = await apply_events(conn, [validator.validate(event) for event in raw])
        async with engine.begin() as conn:
            facts = [FACT_ADAPTER.validate_json(out.value) for out in applied.facts]
            await apply_facts(conn, facts, datetime.now(UTC))
    finally:
        await engine.dispose()
    return report.summary()


async def stored_refs(url: str) -> dict[str, set[str]]:
    """Every client_ref-shaped value in every text column of each service's tables."""
    engine = make_engine(url)
    found: dict[str, set[str]] = {}
    try:
        async with engine.connect() as conn:
            for service, metadata in METADATA.items():
                refs: set[str] = set()
                for table in metadata.sorted_tables:
                    if table.name.endswith("_next"):
                        continue
                    texts = [c for c in table.columns if isinstance(c.type, String | Text)]
                    if texts:
                        for row in await conn.execute(select(*texts)):
                            refs.update(m for v in row if isinstance(v, str) for m in REF.findall(v))
                found[service] = refs
    finally:
        await engine.dispose()
    return found


def test_rotation_keeps_every_person_on_one_ref(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, organisations: OrganisationsConfig
) -> None:
    k1, k2 = secrets.token_hex(32).encode(), secrets.token_hex(32).encode()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STROOM_PSEUDONYM_KEY", raising=False)
    (tmp_path / "pseudonym.key").write_text(k1.decode() + "\n")
    for migrate in (intake_migrate, caseload_migrate, reporting_migrate):
        asyncio.run(migrate(database_url))

    raw = simulate(["GM0405", "GM0420"], date(2023, 1, 1), months=8, seed=5, noise=False)
    first, later = raw[: len(raw) * 2 // 3], raw[len(raw) * 2 // 3 :]
    bsns = bsns_in(first)
    v1 = Pseudonymiser(k1)
    assert asyncio.run(load(database_url, first, v1, organisations))["accepted"] == len(first)
    before = asyncio.run(stored_refs(database_url))
    assert all(before.values())
    assert set().union(*before.values()) <= {v1.client_ref(bsn) for bsn in bsns}

    result = CliRunner().invoke(app, ["pseudonyms", "rotate"])
    assert result.exit_code == 0, result.output
    assert "sleutelversie 2" in result.output
    written = [line for line in (tmp_path / "pseudonym.key").read_text().splitlines() if line]
    assert len(written) == 2
    assert written[0] == k1.decode()
    k2 = written[1].encode()
    v2 = Pseudonymiser(k1, k2)

    after = asyncio.run(stored_refs(database_url))
    wanted = {v2.client_ref(bsn) for bsn in bsns}
    for service in METADATA:
        # Every ref moved to version 2: none of version 1 is left, and each is the same person's.
        assert after[service] == {v2.client_ref(bsn) for bsn in bsns if v1.client_ref(bsn) in before[service]}
        assert after[service] <= wanted

    # A redelivery of an event of the history is recognised as one (its fingerprint follows).
    redelivered = asyncio.run(load(database_url, first[:5], v2, organisations))
    assert redelivered["accepted"] == 0
    assert redelivered["duplicates"] == 5
    assert not redelivered["conflicts"]

    # New events under version 2 for the same BSNs land on the persons already there.
    assert asyncio.run(load(database_url, later, v2, organisations))["accepted"] == len(later)
    final = asyncio.run(stored_refs(database_url))
    everyone = {v2.client_ref(bsn) for bsn in bsns | bsns_in(later)}
    for service in METADATA:
        assert final[service] <= everyone
    returning = bsns & bsns_in(later)
    assert returning, "the later events must be about people of the history"

    async def persons_of_benefits() -> dict[str, set[str]]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(select(live.members.c.client_ref, live.members.c.entity_key))
                per_client: dict[str, set[str]] = {}
                for client_ref, entity in rows:
                    per_client.setdefault(client_ref, set()).add(entity)
                return per_client
        finally:
            await engine.dispose()

    per_client = asyncio.run(persons_of_benefits())
    assert not set(per_client) & before["caseload"]

    async def audit_entries(service: str) -> list[dict[str, Any]]:
        log = audit_log(service)
        try:
            assert (await log.verify()).valid
            return [e.document() for e in await log.page(0, 10)]
        finally:
            await log.engine.dispose()

    # Replaying the topic, which keeps the refs of version 1, would split the persons again.
    rebuild = CliRunner().invoke(app, ["caseload", "rebuild"])
    assert rebuild.exit_code == 1
    assert "personen splitsen" in rebuild.output

    for service in METADATA:
        [entry] = asyncio.run(audit_entries(service))
        assert (entry["action"], entry["result"], entry["detail"]["version"]) == (
            "sleutelrotatie",
            "gelukt",
            2,
        )
        assert entry["actor"].startswith("cli:")
