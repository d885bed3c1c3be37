"""`stroom simulate`: writes a realistic simulated history of case-system events to an NDJSON file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stroom_cli.progress import grouped
from stroom_platform.organisations import Municipality, load_organisations
from stroom_simulator import SimulationConfig, simulate, write_ndjson
from stroom_simulator.summary import HistorySummary


def simulate_command(
    organisation: Annotated[
        str, typer.Option(help="Organisatie (code uit organisations.yaml), bv. werksaam-westfriesland.")
    ] = "werksaam-westfriesland",
    years: Annotated[int, typer.Option(min=1, max=50, help="Aantal jaren geschiedenis.")] = 5,
    seed: Annotated[int, typer.Option(help="Startwaarde: dezelfde waarde geeft exact dezelfde events.")] = 1,
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Eerste dag van de geschiedenis (JJJJ-MM-DD).")
    ] = datetime(2020, 1, 1),
    out: Annotated[
        Path | None, typer.Option(help="NDJSON-bestand om te schrijven; standaard var/<organisatie>.ndjson.")
    ] = None,
    scale: Annotated[
        float, typer.Option(min=0.001, help="Vermenigvuldigt het aantal uitkeringen per gemeente.")
    ] = 1.0,
    noise: Annotated[
        bool,
        typer.Option(
            "--noise/--no-noise",
            help="Met ruis: dubbele, late en ongeordende levering en intrekkingen (retractions).",
        ),
    ] = True,
) -> None:
    """Simuleer events van de zaaksystemen van een organisatie (instroom, uitstroom, trajecten)."""
    config = load_organisations()
    chosen = config.organisation(organisation)
    if chosen is None:
        known = ", ".join(org.code for org in config.organisations)
        raise typer.BadParameter(f"onbekende organisatie {organisation!r}; bekend: {known}")
    settings = SimulationConfig(years=years, seed=seed, start=start.date(), noise=noise, scale=scale)
    target = out or Path("var") / f"{organisation}.ndjson"
    summary = HistorySummary()
    write_ndjson(summary.watch(simulate(chosen, settings)), target)
    _report(summary, chosen.municipalities, settings.end - timedelta(days=1), target)


def _report(summary: HistorySummary, municipalities: Sequence[Municipality], end: date, target: Path) -> None:
    console = Console()
    console.print(
        f"[bold]{grouped(summary.events)}[/] events geschreven naar [cyan]{target}[/]"
        f" ({grouped(summary.duplicates)} dubbel geleverd), {grouped(summary.persons)} personen."
    )
    by_type = Table("Eventtype", "Aantal", title="Events per type")
    by_type.columns[1].justify = "right"
    for type_, count in sorted(summary.by_type.items()):
        by_type.add_row(type_, grouped(count))
    console.print(by_type)
    running = summary.benefits_running(end)
    benefits = Table(
        "Gemeente", "Uitkeringen", title=f"Lopende uitkeringen op {end.isoformat()}, de laatste dag"
    )
    benefits.columns[1].justify = "right"
    for municipality in municipalities:
        benefits.add_row(f"{municipality.name} ({municipality.code})", grouped(running[municipality.code]))
    benefits.add_row("[bold]Totaal[/]", f"[bold]{grouped(sum(running.values()))}[/]")
    console.print(benefits)
