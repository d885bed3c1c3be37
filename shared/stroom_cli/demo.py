"""`stroom demo`: the whole chain on embedded defaults with a simulated WerkSaam history.

Starts a local broker, the three services on SQLite, posts a simulated five-year history to
intake's HTTP API as a case system would, waits until reporting has caught up, prints the
monthly table, and says where to look.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stroom_cli.pipeline import Backlog, wait_until_settled
from stroom_cli.report import print_monthly
from stroom_cli.runtime import (
    SERVICE_NAMES,
    load_service,
    prepare_embedded_secrets,
    start_embedded_broker_if_needed,
)
from stroom_cli.serve import migrate_services, start_services
from stroom_platform.logs import configure_logging
from stroom_platform.organisations import load_organisations
from stroom_reporting.domain.months import month_of
from stroom_simulator import simulate_history

console = Console()
BATCH = 2_000
NDJSON = {"content-type": "application/x-ndjson"}


def _batches(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    lines: list[bytes] = []
    for event in events:
        lines.append(orjson.dumps(event))
        if len(lines) == BATCH:
            yield b"\n".join(lines)
            lines = []
    if lines:
        yield b"\n".join(lines)


async def _post_history(client: httpx.AsyncClient, intake: str, events: list[dict[str, Any]]) -> int:
    accepted = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Events naar intake", total=len(events))
        for body in _batches(iter(events)):
            response = await client.post(f"{intake}/v1/events", content=body, headers=NDJSON)
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code}: {response.text[:500]}")
            outcome = response.json()
            accepted += outcome["accepted"]
            progress.advance(task, body.count(b"\n") + 1)
    return accepted


async def _wait_until_settled(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    with console.status("Caseload en rapportage verwerken de events …") as status:

        def show(backlog: Backlog) -> None:
            status.update(
                f"Verwerken … nog te publiceren {backlog.intake_backlog}, caseload achterstand "
                f"{backlog.caseload_lag}, rapportage achterstand {backlog.reporting_lag}"
            )

        await wait_until_settled(client, urls, show)


async def _demo(data_dir: Path, years: int, scale: float, seed: int, stay: bool) -> None:
    prepare_embedded_secrets(data_dir)
    broker = await start_embedded_broker_if_needed(data_dir)
    try:
        services = [load_service(name) for name in SERVICE_NAMES]
        await migrate_services(services)
        group = await start_services(services, "127.0.0.1")
        urls = {endpoint.name: endpoint.url for endpoint in group.endpoints}
        try:
            organisations = load_organisations(services[0].settings.organisations_file)
            org = organisations.organisation("werksaam-westfriesland")
            assert org is not None, "the shipped configuration has WerkSaam Westfriesland"
            # The history ends with last month, so the dashboard shows figures up to now.
            today = date.today()
            start = date(today.year - years, today.month, 1)
            events = list(simulate_history(org, years=years, seed=seed, start=start, scale=scale))
            console.print(f"Gesimuleerd: {len(events):,} events van {org.name}, van {start} tot nu.")
            async with httpx.AsyncClient(timeout=120) as client:
                accepted = await _post_history(client, urls["intake"], events)
                console.print(
                    f"Intake accepteerde {accepted:,} events (dubbele aanleveringen geteld als één)."
                )
                await _wait_until_settled(client, urls)
            # The last complete year: recent months still grow as pending decisions are recorded.
            year = today.year - 1
            await print_monthly(
                console,
                org.code,
                None,
                "benefits",
                month_of(date(year, 1, 1)),
                month_of(date(year, 12, 1)),
                None,
            )
            _where_to_look(urls, data_dir)
            if stay:
                console.print("Stroom draait. Stop met Ctrl+C.")
                await group.wait()
        finally:
            await group.stop()
    finally:
        if broker is not None:
            broker.stop()


def _where_to_look(urls: dict[str, str], data_dir: Path) -> None:
    console.print()
    console.print(f"[bold]Dashboard[/]           {urls['reporting']}/")
    console.print(f"[bold]Rapportage-API[/]      {urls['reporting']}/docs")
    console.print(f"[bold]Events aanleveren[/]   POST {urls['intake']}/v1/events   ({urls['intake']}/docs)")
    console.print(f"[bold]Caseload[/]            {urls['caseload']}/docs")
    console.print("[bold]Status (ops)[/]        " + "  ".join(f"{u}/status" for u in urls.values()))
    console.print(f"[bold]Gegevens[/]            {data_dir}/ (SQLite, broker-log, pseudonimiseringssleutel)")


def demo(
    years: Annotated[int, typer.Option(help="jaren gesimuleerde geschiedenis")] = 5,
    scale: Annotated[
        float, typer.Option(help="omvang van het klantenbestand ten opzichte van het echte WerkSaam")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="startwaarde van de simulatie")] = 1,
    data_dir: Annotated[
        Path, typer.Option(help="map voor de gegevens van de demo (wordt eerst leeggemaakt)")
    ] = Path("var/demo"),
    stay: Annotated[bool, typer.Option("--stay/--exit", help="blijf draaien na het laden")] = True,
) -> None:
    """Draai Stroom van begin tot eind, ingebouwd, met een gesimuleerde geschiedenis van WerkSaam."""
    shutil.rmtree(data_dir, ignore_errors=True)
    os.environ["STROOM_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    configure_logging(os.environ.get("STROOM_LOG_LEVEL", "WARNING"))
    asyncio.run(_demo(data_dir, years, scale, seed, stay))
