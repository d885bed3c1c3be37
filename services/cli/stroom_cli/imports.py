"""`stroom import`: reads NDJSON or CSV exports into the intake database, through intake's validation."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from stroom_cli.progress import Step, step
from stroom_cli.runtime import load_settings, prepare_embedded_secrets
from stroom_contract.validation import FieldError
from stroom_intake.domain.outcome import IngestReport
from stroom_intake.domain.reading import (
    MalformedBody,
    Position,
    RawEvent,
    Unreadable,
    csv_event,
    read_json,
    read_ndjson,
)
from stroom_intake.outbox import publish_until_empty
from stroom_intake.runtime import make_validator
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_intake.storage import migrate
from stroom_platform.db import make_engine
from stroom_platform.logs import configure_logging
from stroom_platform.settings import CommonSettings

Item = RawEvent | Unreadable
SHOWN_REFUSALS = 30


@dataclass
class FileResult:
    path: Path
    report: IngestReport = field(default_factory=IngestReport)


def _counted_lines(handle: IO[bytes], progress: Step) -> Iterator[bytes]:
    for line in handle:
        progress.advance(len(line))
        yield line


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv_items(lines: Iterator[bytes]) -> Iterator[Item]:
    reader = csv.DictReader(line.decode("utf-8-sig") for line in lines)
    for index, row in enumerate(reader):
        yield csv_event(row, Position(index, reader.line_num))


def _json_items(body: bytes) -> Iterator[Item]:
    try:
        yield from read_json(body, batch=None)
    except MalformedBody as exc:
        yield Unreadable(Position(0, exc.line), FieldError("event", exc.message))


def _items(path: Path, handle: IO[bytes], progress: Step) -> Iterator[Item]:
    lines = _counted_lines(handle, progress)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_items(lines)
    if suffix == ".json":
        return _json_items(b"".join(lines))
    return read_ndjson(lines)


async def _import(settings: IntakeSettings, files: list[Path], console: Console) -> list[FileResult]:
    url = settings.intake_database_url
    # Idempotent, and lets an import prepare an embedded installation's database on its own.
    await migrate(url)
    engine = make_engine(url)
    ingestor = Ingestor(engine, make_validator(settings))
    results = []
    try:
        for path in files:
            result = FileResult(path)
            size = path.stat().st_size
            with step(console, f"Import {path.name}", size, "bytes") as progress, path.open("rb") as handle:
                for batch in _batches(_items(path, handle, progress), settings.ingest_batch_size):
                    result.report.merge(await ingestor.ingest(batch))
            results.append(result)
    finally:
        await engine.dispose()
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
    for result in results:
        report = result.report
        totals.add_row(
            str(result.path),
            str(report.accepted.total()),
            str(report.duplicates.total()),
            str(len(report.conflicts)),
            str(len(report.refusals)),
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
        typer.Argument(exists=True, dir_okay=False, readable=True, help="NDJSON-, JSON- of CSV-bestanden."),
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
