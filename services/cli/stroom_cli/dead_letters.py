"""The dead letters of a service in a table, and on request offered again: one way for all."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from stroom_cli.audit import record_admin_action
from stroom_cli.runtime import ConfigurationError, load_settings, running_embedded_broker
from stroom_contract.messages import counted
from stroom_platform.kafka.clients import Broker, broker_of
from stroom_platform.kafka.dead_letters import DeadLetter, DeadLettersUnread
from stroom_platform.settings import CommonSettings

console = Console()

Read = Callable[[Broker, str], Coroutine[Any, Any, list[DeadLetter]]]
Replay = Callable[[Broker, str, list[DeadLetter]], Coroutine[Any, Any, int]]


def once_per_record(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """Each refused record once, as it was refused last: a batch applied again after a crash
    before its offsets were committed dead-letters its poison records again (the topic cannot take
    that back), and a replayed record that still fails is dead-lettered again where the replay put
    it. Listed or replayed as often as it stands on the topic, a record would be counted and
    offered that often, and every replay would double what still fails. A record is its key, value
    and own headers, which a replay keeps; `letters` in partition and offset order, which is the
    order a record was refused in (its key keeps it in one partition)."""
    latest: dict[tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...]], DeadLetter] = {}
    for letter in letters:
        record = (letter.key, letter.value, tuple(letter.record_headers))
        latest.pop(record, None)
        latest[record] = letter
    return list(latest.values())


def find_broker() -> None:
    """KAFKA_BOOTSTRAP_SERVERS, or else the embedded broker of a `stroom demo` or `stroom serve`
    running on this data directory, so that nobody has to look up its port; without either the
    command ends, saying so in one line."""
    settings = load_settings(CommonSettings)
    if settings.kafka_bootstrap_servers:
        return
    address = asyncio.run(running_embedded_broker(settings.data_dir))
    if address is None:
        ConfigurationError(
            "geen broker om de dode letters van te lezen: zet KAFKA_BOOTSTRAP_SERVERS, of start "
            f"`stroom demo` of `stroom serve` op de gegevens in {settings.data_dir}"
        ).exit()
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = address


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
    (title, target), (read, offer) = topics, commands
    broker = broker_of(settings)
    try:
        letters = once_per_record(asyncio.run(read(broker, title)))
    except DeadLettersUnread as exc:
        print(f"stroom: {exc}.", file=sys.stderr)
        raise typer.Exit(1) from None
    if not letters:
        console.print(f"Geen dode letters op {title}.")
        return
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
    if replay:
        count = asyncio.run(offer(broker, target, letters))
        detail = {"records": count}
        asyncio.run(
            record_admin_action(service, "dode letters opnieuw aangeboden", service, "gelukt", detail)
        )
        console.print(f"{counted(count, 'record', 'records')} opnieuw aangeboden op {target}.")
