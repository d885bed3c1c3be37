"""`stroom report monthly` prints the table the API serves and writes CSV and XLSX."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from reporting.integration.conftest import loaded_sqlite_database
from stroom_cli.report import app


def test_report_monthly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = asyncio.run(loaded_sqlite_database(tmp_path / "reporting.db"))
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
    written = (tmp_path / "m.csv").read_text(encoding="utf-8").lstrip("\ufeff").splitlines()
    assert written[0].startswith("Tabel;Maand;Gemeentecode")
    # The totals are in the CSV too, each row saying which table it is of.
    assert {line.split(";")[0] for line in written[1:]} >= {"Mutaties per maand", "Totaal per gemeente"}
    assert load_workbook(tmp_path / "m.xlsx").sheetnames == ["Hoorn", "Totaal"]
    wrong = CliRunner().invoke(
        app, ["monthly", "--organisation", "nope", "--from", "2024-01", "--to", "2024-03"]
    )
    assert wrong.exit_code != 0


def test_report_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = asyncio.run(loaded_sqlite_database(tmp_path / "reporting.db"))
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "bestuur.xlsx"
    args = ["board", "--organisation", "werksaam-westfriesland", "--from", "2024-01", "--to", "2024-12"]
    result = CliRunner().invoke(app, [*args, "--municipality", "GM0405", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "periode januari 2024 t/m december 2024" in result.output
    assert load_workbook(out).sheetnames == ["Overzicht aantal uitkeringen", "Hoorn"]
    too_long = CliRunner().invoke(app, [*args[:-1], "2025-01", "--out", str(out)])
    assert too_long.exit_code != 0


@pytest.mark.parametrize(
    ("family", "arguments", "title", "csv_files"),
    [
        ("reasons", ["--from", "2024-01", "--to", "2024-06"], "Redenen", {"r.csv", "r_top5.csv"}),
        ("composition", ["--date", "2024-06-30"], "Samenstelling", {"r.csv"}),
        (
            "placements",
            ["--from", "2024-01", "--to", "2024-03"],
            "Plaatsingen",
            {"r.csv", "r_sheltered_work.csv"},
        ),
        ("trajectories", ["--quarter", "2024-05"], "Trajecten", {"r.csv", "r_ended.csv"}),
        ("caseload", ["--date", "2024-06-30"], "Caseload", {"r.csv"}),
        (
            "gate",
            ["--from", "2024-01", "--to", "2024-06"],
            "Poort: aanvragen",
            {"r.csv", "r_period_totals.csv"},
        ),
        ("kpis", ["--from", "2024-01", "--to", "2024-06"], "KPI", {"r.csv", "r_revolving_door.csv"}),
    ],
)
def test_every_report_family(
    family: str,
    arguments: list[str],
    title: str,
    csv_files: set[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = asyncio.run(loaded_sqlite_database(tmp_path / "reporting.db"))
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        app,
        [
            family,
            "--organisation",
            "werksaam-westfriesland",
            *arguments,
            "--csv",
            str(out / "r.csv"),
            "--xlsx",
            str(out / "r.xlsx"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert title.lower() in result.output.lower()
    assert {p.name for p in out.glob("*.csv")} == csv_files
    rows = (out / "r.csv").read_text(encoding="utf-8").lstrip("\ufeff").splitlines()
    assert rows[0].startswith("Tabel;")
    assert len(rows) > 1
    assert load_workbook(out / "r.xlsx").sheetnames


def _kpis_at(columns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    url = asyncio.run(loaded_sqlite_database(tmp_path / "reporting.db"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", str(columns))
    args = ["kpis", "--organisation", "werksaam-westfriesland", "--from", "2024-01", "--to", "2024-12"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_kpi_sheet_reads_whole_at_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _kpis_at(80, tmp_path, monkeypatch)
    shown = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    # Nothing cut off: every heading and every word of a definition is there in full.
    assert "…" not in shown
    for heading in ("Indicator", "Definitie", "Zelfde periode vorig jaar", "Norm gehaald", "Noemer"):
        assert heading in shown
    assert "2024-01 t/m 2024-12" in lines[0]
    # Yes and no in Dutch, and no code where its Dutch label stands beside it.
    gehaald = [line.removeprefix("Norm gehaald").strip() for line in lines if line.startswith("Norm gehaald")]
    assert {"ja", "nee"} & set(gehaald)
    assert set(gehaald) <= {"ja", "nee", ""}
    assert "False" not in shown
    assert "True" not in shown
    assert "Gemeentecode" not in shown


def test_a_wide_terminal_shows_the_kpis_as_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _kpis_at(400, tmp_path, monkeypatch)
    (header,) = [line for line in lines if "Indicator" in line]
    assert header.startswith("┃")
    assert "Norm gehaald" in header
