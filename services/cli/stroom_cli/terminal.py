"""A table as a person reads it in a terminal of any width."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def show_table(
    console: Console, title: str, columns: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]]
) -> None:
    """`rows` under `columns` (heading, right-aligned): as a table where its columns fit the
    terminal without cutting a word, otherwise a block per row with each heading beside its value
    (a table squeezed narrower than its words cuts them to 'Ge…', which nobody can read)."""
    table = Table(title=title, title_justify="left")
    for heading, right in columns:
        table.add_column(heading, justify="right" if right else "left")
    for row in rows:
        table.add_row(*row)
    # Measured without the terminal's bound, which Measurement.get would clamp it to.
    unbounded = console.options.update(max_width=sys.maxsize)
    if Measurement.get(console, unbounded, table).minimum <= console.width:
        console.print(table)
        return
    console.print(f"[italic]{title}[/]")
    for row in rows:
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column()
        for (heading, _), value in zip(columns, row, strict=True):
            block.add_row(heading, value)
        console.print(block, "")
