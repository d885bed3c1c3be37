"""`stroom caseload ...`: run a caseload worker, rebuild the projections from the events topic."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stroom_cli.audit import record_admin_action
from stroom_cli.dead_letters import find_broker, show_and_replay
from stroom_cli.progress import grouped
from stroom_cli.report import StockDate
from stroom_cli.runtime import load_settings
from stroom_contract.codes import CodeList, PlacementKind, Regulation, TrajectoryPhase
from stroom_contract.messages import counted

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.callback()
def caseload() -> None:
    """De caseloaddienst: actuele stand en projecties per gemeente."""


@app.command()
def worker() -> None:
    """Start één caseload-worker (consumer en HTTP-API); start er meer voor één consumergroep."""
    from stroom_caseload.commands import run_worker

    run_worker()


@app.command()
def rebuild() -> None:
    """Speel het eventtopic opnieuw af in verse tabellen en wissel ze in één keer in."""
    from stroom_caseload.commands import RebuildFailed, RepublicationRefused
    from stroom_caseload.commands import rebuild as run_rebuild
    from stroom_caseload.settings import CaseloadSettings
    from stroom_cli.pseudonyms import stored_version

    settings = CaseloadSettings()
    version = asyncio.run(stored_version("caseload"))
    if version > 1:
        # The topic keeps the refs its events were published with; replayed, they would split
        # every person into one under the old key and one under the current key.
        console.print(
            f"De opgeslagen client_refs staan op sleutelversie {version}, de events in het topic"
            " (deels) op een eerdere versie: herberekenen uit het topic zou personen splitsen."
            " Niet uitgevoerd."
        )
        raise typer.Exit(1)
    columns = (
        TextColumn("[bold]Herberekenen"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} events/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("rebuild", total=None, rate="")

        def update(done: int, total: int) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            rate = grouped(done / elapsed) if elapsed else ""
            progress.update(task, completed=done, total=total, rate=rate)

        try:
            result = asyncio.run(run_rebuild(settings, update))
        except BaseException as exc:
            asyncio.run(
                record_admin_action("caseload", "herberekening", "caseload", f"mislukt: {type(exc).__name__}")
            )
            if isinstance(exc, RebuildFailed | RepublicationRefused):
                # Said for the operator already, with whether the tables in use changed.
                console.print(f"[red]Herberekening mislukt:[/] {exc}", soft_wrap=True)
                raise typer.Exit(1) from exc
            raise
    asyncio.run(
        record_admin_action(
            "caseload",
            "herberekening",
            "caseload",
            "gelukt",
            {"records": result.records, "entities": result.entities, "client_records": result.client_records},
        )
    )
    console.print(
        f"{counted(result.records, 'record', 'records')} opnieuw afgespeeld"
        f" ({result.skipped} overgeslagen als ongeldig),"
        f" {counted(result.entities, 'entiteitsfeit', 'entiteitsfeiten')}"
        f" en {counted(result.client_records, 'klantrecord', 'klantrecords')} opnieuw gepubliceerd;"
        " de nieuwe tabellen zijn in gebruik."
    )


@app.command()
def summary(
    municipality: Annotated[str, typer.Argument(metavar="GEMEENTE", help="CBS-code, bv. GM0405")],
    day: StockDate = None,
) -> None:
    """Het klantenbestand van één gemeente op een peildatum, uit de caseloaddatabase."""
    from stroom_caseload.commands import projection as read_projection
    from stroom_caseload.settings import CaseloadSettings
    from stroom_platform.organisations import load_organisations

    settings = load_settings(CaseloadSettings)
    name = load_organisations(settings.organisations_file).municipality_names.get(municipality)
    if name is None:
        raise typer.BadParameter(
            f"{municipality} is geen gemeente van een ingestelde organisatie", param_hint="GEMEENTE"
        )
    projection = asyncio.run(read_projection(settings, municipality, day.date() if day else date.today()))
    table = Table("Onderdeel", "Code", "Omschrijving", "Aantal", title=f"Caseload {name} op {projection.on}")
    table.columns[-1].justify = "right"
    parts: tuple[tuple[str, dict[str, int], type[CodeList]], ...] = (
        ("Uitkeringen", projection.benefits, Regulation),
        ("Personen", projection.persons, Regulation),
        ("Plaatsingen", projection.placements, PlacementKind),
        ("Open aanvragen", projection.open_applications, Regulation),
        ("Trajecten", projection.trajectories, TrajectoryPhase),
    )
    for part, counts, codes in parts:
        labels = codes.labels()
        for code, count in sorted(counts.items()):
            table.add_row(part, code, labels.get(code, ""), grouped(count))
    console.print(table)


@app.command("dead-letters")
def dead_letters(
    replay: Annotated[
        bool, typer.Option("--replay", help="bied ze na een herstel opnieuw aan op het eventtopic")
    ] = False,
) -> None:
    """Toon de afgewezen records (dead letters) met hun reden; met --replay opnieuw aanbieden."""
    from stroom_caseload.commands import DeadLetter, read_dead_letters
    from stroom_caseload.commands import replay as replay_letters
    from stroom_caseload.settings import CaseloadSettings
    from stroom_platform.kafka.clients import Broker

    find_broker()
    settings = load_settings(CaseloadSettings)

    async def offer(broker: Broker, topic: str, letters: list[DeadLetter]) -> int:
        return await replay_letters(broker, topic, letters, settings)

    show_and_replay(
        "caseload",
        settings,
        (settings.dead_letter_topic, settings.events_topic),
        [("Bron", "ce_source"), ("Id", "ce_id"), ("Type", "ce_type")],
        (read_dead_letters, offer),
        replay,
    )
