"""`stroom import`: reads NDJSON or CSV exports into the intake database, through intake's validation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from stroom_cli.progress import grouped, step
from stroom_cli.runtime import load_settings, prepare_embedded_secrets
from stroom_intake.commands import IngestReport, ingest_file, ingestor, publish_until_empty
from stroom_intake.settings import IntakeSettings
from stroom_platform.logs import configure_logging
from stroom_platform.settings import CommonSettings

SHOWN_REFUSALS = 30


@dataclass
class FileResult:
    path: Path
    report: IngestReport


async def _import(settings: IntakeSettings, files: list[Path], console: Console) -> list[FileResult]:
    results = []
    async with ingestor(settings) as intake:
        for path in files:
            size = path.stat().st_size
            with step(console, f"Import {path.name}", size, "bytes") as progress, path.open("rb") as handle:
                report = await ingest_file(intake, path, handle, settings.ingest_batch_size, progress.advance)
            results.append(FileResult(path, report))
    return results


def _write_errors(results: list[FileResult], target: Path) -> None:
    with target.open("wb") as out:
        for result in results:
            for refusal in result.report.refusals:
                for doc in refusal.documents():
                    out.write(orjson.dumps({"file": str(result.path), "kind": "refused", **doc}) + b"\n")
            for conflict in result.report.conflicts:
                out.write(
                    orjson.dumps({"file": str(result.path), "kind": "conflict", **conflict.document()})
                    + b"\n"
                )


def _summarise(results: list[FileResult], console: Console) -> None:
    totals = Table("Bestand", "Geaccepteerd", "Dubbel", "Conflict", "Geweigerd", title="Import")
    for column in totals.columns[1:]:
        column.justify = "right"
    for result in results:
        report = result.report
        totals.add_row(
            str(result.path),
            grouped(report.accepted.total()),
            grouped(report.duplicates.total()),
            grouped(len(report.conflicts)),
            grouped(len(report.refusals)),
        )
    console.print(totals)
    problems = [
        (result.path.name, doc)
        for result in results
        for doc in [d for r in result.report.refusals for d in r.documents()]
        + [c.document() | {"field": ""} for c in result.report.conflicts]
    ]
    if not problems:
        return
    table = Table("Bestand", "Regel", "Id", "Veld", "Melding", title="Geweigerd of in conflict")
    for name, doc in problems[:SHOWN_REFUSALS]:
        line = doc.get("line", doc["index"] + 1)
        table.add_row(name, str(line), str(doc["id"] or ""), doc["field"], doc["message"])
    console.print(table)
    if len(problems) > SHOWN_REFUSALS:
        console.print(
            f"… en nog {len(problems) - SHOWN_REFUSALS}; schrijf ze allemaal weg met --errors BESTAND."
        )


def import_file(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="BESTANDEN",
            help="NDJSON-, JSON- of CSV-bestanden.",
        ),
    ],
    errors: Annotated[
        Path | None,
        typer.Option("--errors", help="Schrijf elke weigering en elk conflict als NDJSON naar dit bestand."),
    ] = None,
    publish: Annotated[
        bool,
        typer.Option(
            help="Publiceer daarna de hele achterstand naar Kafka (vereist KAFKA_BOOTSTRAP_SERVERS)."
        ),
    ] = False,
) -> None:
    """Importeer exports van zaaksystemen in intake, met dezelfde controle als de HTTP-intake.

    Formaat naar extensie: .csv is CSV, .json één event of een JSON-array, al het andere NDJSON
    (één CloudEvent per regel). CSV heeft een kopregel met de kolommen
    specversion,id,source,type,time,subject,datacontenttype,data; `data` is het JSON-object
    als tekst, lege cellen tellen als afwezig. Instellingen komen uit de omgeving zoals bij de
    service (DATABASE_URL, STROOM_PSEUDONYM_KEY). Geweigerde events en conflicten (zelfde
    source en id, andere inhoud; de eerste blijft staan) worden getoond met regelnummer, id,
    veld en melding; dan is de exitcode 1. Publiceren naar Kafka doet de relay van `stroom
    serve`, of direct met --publish.
    """
    console = Console()
    prepare_embedded_secrets(load_settings(CommonSettings))
    settings = load_settings(IntakeSettings)
    # Refusals and conflicts are in the summary (and --errors); a log line each would bury it.
    configure_logging("ERROR")
    if publish and not settings.kafka_bootstrap_servers:
        raise typer.BadParameter("--publish heeft KAFKA_BOOTSTRAP_SERVERS nodig", param_hint="--publish")
    results = asyncio.run(_import(settings, files, console))
    _summarise(results, console)
    if errors is not None:
        _write_errors(results, errors)
    if publish:
        count = asyncio.run(publish_until_empty(settings))
        console.print(f"{count} events gepubliceerd naar {settings.events_topic}.")
    if any(r.report.refusals or r.report.conflicts for r in results):
        raise typer.Exit(1)
