"""`stroom report monthly` prints the table the API serves and writes CSV and XLSX."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from reporting.integration.conftest import loaded_database
from stroom_cli.report import app


def test_report_monthly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = asyncio.run(loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"))
    monkeypatch.setenv("DATABASE_URL", url)
    args = ["monthly", "--organisation", "werksaam-westfriesland", "--from", "2024-01", "--to", "2024-03"]
    result = CliRunner().invoke(
        app,
        [
            *args,
            "--municipality",
            "GM0405",
            "--csv",
            str(tmp_path / "m.csv"),
            "--xlsx",
            str(tmp_path / "m.xlsx"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Instroom" in result.output
    assert "Hoorn" in result.output
    assert (tmp_path / "m.csv").read_text(encoding="utf-8").lstrip("\ufeff").startswith("Maand;Gemeentecode")
    assert load_workbook(tmp_path / "m.xlsx").sheetnames == ["Hoorn", "Totaal"]
    wrong = CliRunner().invoke(
        app, ["monthly", "--organisation", "nope", "--from", "2024-01", "--to", "2024-03"]
    )
    assert wrong.exit_code != 0


def test_report_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = asyncio.run(loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"))
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "bestuur.xlsx"
    args = ["board", "--organisation", "werksaam-westfriesland", "--from", "2024-01", "--to", "2024-12"]
    result = CliRunner().invoke(app, [*args, "--municipality", "GM0405", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "periode januari 2024 t/m december 2024" in result.output
    assert load_workbook(out).sheetnames == ["Overzicht aantal uitkeringen", "Hoorn"]
    too_long = CliRunner().invoke(app, [*args[:-1], "2025-01", "--out", str(out)])
    assert too_long.exit_code != 0
