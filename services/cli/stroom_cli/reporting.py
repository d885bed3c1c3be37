"""`stroom reporting ...`: the facts the reporting service could not use, and its KPI cells."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from stroom_cli.dead_letters import find_broker, show_and_replay
from stroom_cli.runtime import load_settings

app = typer.Typer(no_args_is_help=True)


@app.callback()
def reporting() -> None:
    """De rapportagedienst: de feiten die hij niet kon verwerken, en zijn KPI-cellen."""


@app.command("dead-letters")
def dead_letters(
    replay: Annotated[
        bool, typer.Option("--replay", help="bied ze na een herstel opnieuw aan op het feitentopic")
    ] = False,
) -> None:
    """Toon de afgewezen feiten (dead letters) met hun reden; met --replay opnieuw aanbieden."""
    from stroom_reporting.commands import read_dead_letters
    from stroom_reporting.commands import replay as replay_letters
    from stroom_reporting.settings import ReportingSettings

    find_broker()
    settings = load_settings(ReportingSettings)
    show_and_replay(
        "reporting",
        settings,
        (settings.facts_dead_letter_topic, settings.facts_topic),
        [],
        (read_dead_letters, replay_letters),
        replay,
    )


@app.command("kpi-cells")
def kpi_cells() -> None:
    """Bereken de KPI-cellen opnieuw uit de opgeslagen leesmodellen.

    Eenmalig na de migratie die ze invoert, voor een database met feiten van daarvoor."""
    from stroom_platform.organisations import load_organisations
    from stroom_reporting.commands import rebuild_kpi_cells
    from stroom_reporting.settings import ReportingSettings

    settings = ReportingSettings()
    organisations = load_organisations(settings.organisations_file)
    benefits, plans = asyncio.run(rebuild_kpi_cells(settings, organisations))
    typer.echo(f"KPI-cellen berekend voor {benefits} uitkeringen en {plans} plannen")
