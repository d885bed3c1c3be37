"""What the `stroom` command may call in intake: migrations, importing files, the backlog, key rotation."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import MetaData

from stroom_contract.validation import FieldError
from stroom_intake.domain.outcome import IngestReport, fingerprint
from stroom_intake.domain.reading import (
    MalformedBody,
    Position,
    RawEvent,
    Unreadable,
    csv_event,
    read_json,
    read_ndjson,
)
from stroom_intake.migrations import MIGRATIONS
from stroom_intake.outbox import publish_until_empty
from stroom_intake.runtime import make_validator
from stroom_intake.service import Ingestor
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import audit, metadata
from stroom_platform.db import upgrade
from stroom_platform.pseudonyms import Derived

__all__ = [
    "MIGRATIONS",
    "IngestReport",
    "Ingestor",
    "audit",
    "ingest_file",
    "ingestor",
    "migrate",
    "publish_until_empty",
    "ref_tables",
]

Item = RawEvent | Unreadable


async def migrate(url: str) -> None:
    """Create or upgrade the intake tables (a one-off step, not part of app start-up)."""
    await upgrade(MIGRATIONS.location, url)


def ref_tables() -> tuple[MetaData, Derived]:
    """The tables whose client_refs a key rotation rewrites, and the columns derived from them."""
    # The fingerprint tells a redelivery from a conflict: it follows the rewritten JSON.
    return metadata, {"intake_events": {"fingerprint": lambda row: fingerprint(row["wire"].encode())}}


@asynccontextmanager
async def ingestor(settings: IntakeSettings) -> AsyncIterator[Ingestor]:
    """Intake's validation and storage on its configured database, as the HTTP intake has them."""
    url = settings.intake_database_url
    # Idempotent, and lets an import prepare an embedded installation's database on its own.
    await migrate(url)
    engine = settings.database_engine("intake")
    try:
        yield Ingestor(engine, make_validator(settings))
    finally:
        await engine.dispose()


async def ingest_file(
    ingestor: Ingestor, path: Path, handle: IO[bytes], batch_size: int, advance: Callable[[int], None]
) -> IngestReport:
    """Every event of an export file through `ingestor`; `advance` hears how many bytes were read."""
    report = IngestReport()
    for batch in _batches(_items(path, handle, advance), batch_size):
        report.merge(await ingestor.ingest(batch))
    return report


def _counted_lines(handle: IO[bytes], advance: Callable[[int], None]) -> Iterator[bytes]:
    for line in handle:
        advance(len(line))
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


def _items(path: Path, handle: IO[bytes], advance: Callable[[int], None]) -> Iterator[Item]:
    lines = _counted_lines(handle, advance)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_items(lines)
    if suffix == ".json":
        return _json_items(b"".join(lines))
    return read_ndjson(lines)
