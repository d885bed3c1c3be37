"""`show_table`: a table in the terminal is read whole, at 80 columns as on a wide screen."""

from __future__ import annotations

import io

from rich.console import Console

from stroom_cli.terminal import show_table

COLUMNS = [("#", True), ("Tijdstip", False), ("Actie", False), ("Object", False), ("Actor", False)]
ROWS = [
    [
        "1",
        "2026-12-06T06:05:46.976808+00:00",
        "detail-inzage",
        "monthly/trace GM0405 PW",
        "werksaam-westfriesland",
    ],
    ["2", "2026-12-06T06:21:21.225470+00:00", "audit-inzage", "reporting_audit na 0", "cli:root"],
]


def _shown(width: int) -> str:
    console = Console(width=width, file=io.StringIO())
    show_table(console, "reporting", COLUMNS, ROWS)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_a_table_too_wide_for_the_terminal_is_a_block_per_row_with_every_word_whole() -> None:
    shown = _shown(80)
    assert "…" not in shown
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= 80
    lines = [line.split() for line in shown.splitlines()]
    assert ["Tijdstip", "2026-12-06T06:05:46.976808+00:00"] in lines
    assert ["Actor", "werksaam-westfriesland"] in lines


def test_a_table_that_fits_stays_a_table() -> None:
    shown = _shown(200)
    (header,) = [line for line in shown.splitlines() if "Tijdstip" in line]
    assert header.startswith("┃")
    assert any(
        line.startswith("│ 1 │ 2026-12-06T06:05:46.976808+00:00 │ detail-inzage")
        for line in shown.splitlines()
    )
