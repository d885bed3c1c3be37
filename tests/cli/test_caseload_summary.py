"""`stroom caseload summary`: a municipality's caseload on a day, each code with its Dutch label."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from caseload.history import simulate
from rich.console import Console
from typer.testing import CliRunner

import stroom_cli.caseload
from stroom_caseload.commands import migrate
from stroom_caseload.queries import CaseloadQueries, Projection
from stroom_caseload.service import apply_events
from stroom_cli.main import app
from stroom_cli.progress import grouped
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.codes import PlacementKind, Regulation, TrajectoryPhase
from stroom_contract.validation import EventValidator
from stroom_platform.db import make_engine
from stroom_platform.organisations import OrganisationsConfig

ON = date(2022, 12, 31)


async def _loaded(url: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> Projection:
    """A year of Hoorn's events applied; what the caseload database says of Hoorn on ON."""
    await migrate(url)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    events = [validator.validate(e) for e in simulate(["GM0405"], date(2022, 1, 1), months=12, seed=5)]
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await apply_events(conn, events)
        async with engine.connect() as conn:
            return await CaseloadQueries(conn).projection("GM0405", ON)
    finally:
        await engine.dispose()


def test_the_summary_shows_every_count_with_its_code_and_dutch_label(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pseudonymiser: Pseudonymiser,
    organisations: OrganisationsConfig,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
    projection = asyncio.run(_loaded(url, pseudonymiser, organisations))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(stroom_cli.caseload, "console", Console(width=200))

    shown = CliRunner().invoke(app, ["caseload", "summary", "GM0405", "--date", ON.isoformat()])

    assert shown.exit_code == 0, shown.output
    assert f"Caseload Hoorn op {ON}" in shown.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in shown.output.splitlines()]
    printed = {(row[0], row[1]): (row[2], row[3]) for row in rows if len(row) == 4}
    expected = {
        (part, code): (codes(code).label, grouped(count))
        for part, counts, codes in (
            ("Uitkeringen", projection.benefits, Regulation),
            ("Personen", projection.persons, Regulation),
            ("Plaatsingen", projection.placements, PlacementKind),
            ("Open aanvragen", projection.open_applications, Regulation),
            ("Trajecten", projection.trajectories, TrajectoryPhase),
        )
        for code, count in counts.items()
    }
    assert projection.benefits
    assert projection.placements
    assert printed == expected


def test_a_municipality_no_organisation_has_is_refused_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}")
    refused = CliRunner().invoke(app, ["caseload", "summary", "GM9999"])
    assert refused.exit_code == 2
    said = " ".join(refused.output.replace("│", " ").split())
    assert "Ongeldige waarde voor GEMEENTE: GM9999 is geen gemeente van een ingestelde organisatie" in said
