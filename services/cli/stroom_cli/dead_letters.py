"""The dead letters of a service in a table, and on request offered again: one way for all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from stroom_cli.audit import record_admin_action
from stroom_platform.kafka.dead_letters import DeadLetter

console = Console()


def show_and_replay(
    service: str,
    title: str,
    letters: Sequence[DeadLetter],
    columns: Sequence[tuple[str, str]],
    replay: Callable[[], Coroutine[Any, Any, int]] | None,
    target: str,
) -> None:
    """`columns`: (label, header) of the records' own headers worth a column of their own."""
    table = Table("Partitie", "Offset", *(label for label, _ in columns), "Reden", "Positie", title=title)
    for letter in letters:
        table.add_row(
            str(letter.partition),
            str(letter.offset),
            *(letter.header(header) for _, header in columns),
            letter.reason,
            letter.position,
        )
    console.print(table)
    if replay is not None and letters:
        count = asyncio.run(replay())
        detail = {"records": count}
        asyncio.run(
            record_admin_action(service, "dead letters opnieuw aangeboden", service, "gelukt", detail)
        )
        console.print(f"{count:,} records opnieuw aangeboden op {target}.")
