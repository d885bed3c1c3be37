"""The dead letters of a service in a table, and on request offered again: one way for all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from stroom_cli.audit import record_admin_action
from stroom_contract.messages import counted
from stroom_platform.kafka.clients import Broker, broker_of
from stroom_platform.kafka.dead_letters import DeadLetter

if TYPE_CHECKING:
    from stroom_platform.settings import CommonSettings

console = Console()

Read = Callable[[Broker, str], Coroutine[Any, Any, list[DeadLetter]]]
Replay = Callable[[Broker, str, list[DeadLetter]], Coroutine[Any, Any, int]]


def once_per_position(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """Each refused record once, by where it was read: a batch applied again after a crash before
    its offsets were committed dead-letters its poison records again (the topic cannot take that
    back), and listing or replaying them twice would count and offer them twice."""
    seen: set[str] = set()
    kept = []
    for letter in letters:
        if letter.position not in seen or not letter.position:
            seen.add(letter.position)
            kept.append(letter)
    return kept


def show_and_replay(
    service: str,
    settings: CommonSettings,
    topics: tuple[str, str],
    columns: Sequence[tuple[str, str]],
    commands: tuple[Read, Replay],
    replay: bool,
) -> None:
    """The dead letters on `topics[0]` listed; with `replay` offered again on `topics[1]`, as the
    service's `commands` (read, replay) do it. `columns`: (label, header) of the records' own
    headers worth a column of their own."""
    if not settings.kafka_bootstrap_servers:
        raise typer.BadParameter("KAFKA_BOOTSTRAP_SERVERS is nodig om de dead letters te lezen")
    (title, target), (read, offer) = topics, commands
    broker = broker_of(settings)
    letters = once_per_position(asyncio.run(read(broker, title)))
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
    if replay and letters:
        count = asyncio.run(offer(broker, target, letters))
        detail = {"records": count}
        asyncio.run(
            record_admin_action(service, "dead letters opnieuw aangeboden", service, "gelukt", detail)
        )
        console.print(f"{counted(count, 'record', 'records')} opnieuw aangeboden op {target}.")
