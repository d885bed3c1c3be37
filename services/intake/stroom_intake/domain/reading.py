"""Turns request bodies and export files into raw events, each with its position in the input."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from stroom_contract.messages import json_error
from stroom_contract.redaction import redact
from stroom_contract.validation import FieldError

# The flat CSV layout of `stroom import`: one column per CloudEvents attribute, `data` as a JSON object.
CSV_COLUMNS = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data")


@dataclass(frozen=True, slots=True)
class Position:
    """Where an event was in its input: `index` counts events from 0, `line` counts lines from 1."""

    index: int
    line: int | None = None

    def document(self) -> dict[str, int]:
        doc = {"index": self.index}
        if self.line is not None:
            doc["line"] = self.line
        return doc


@dataclass(frozen=True, slots=True)
class RawEvent:
    position: Position
    raw: Any


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An input line that is no event at all (e.g. not JSON): refused without validation."""

    position: Position
    error: FieldError
    event_id: str | None = None
    source: str | None = None


class MalformedBody(Exception):
    """A JSON body that cannot be parsed: nothing in it is accepted."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def read_json(body: bytes, *, batch: bool | None) -> list[RawEvent]:
    """One event (`batch=False`), a JSON array of events (`batch=True`) or either (`None`)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"geen geldige JSON: {json_error(exc)}", exc.lineno, exc.colno) from None
    if isinstance(document, list) and batch is not False:
        return [RawEvent(Position(index), raw) for index, raw in enumerate(document)]
    if batch:
        raise MalformedBody("een batch is een JSON-array van events")
    return [RawEvent(Position(0), document)]


def read_ndjson(
    lines: Iterable[bytes], *, first_line: int = 1, first_index: int = 0
) -> Iterator[RawEvent | Unreadable]:
    """One structured event per line; blank lines are skipped, unparseable ones are `Unreadable`."""
    index = first_index
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        position = Position(index, number)
        index += 1
        try:
            yield RawEvent(position, orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Unreadable(position, FieldError("event", f"is geen geldige JSON: {json_error(exc)}"))


def _cell(row: Mapping[str, str | None], column: str) -> str | None:
    value = row.get(column)
    return redact(value) if value else None


def csv_event(row: Mapping[str, str | None], position: Position) -> RawEvent | Unreadable:
    """An event from a CSV row of `CSV_COLUMNS`; empty cells are absent attributes."""
    raw: dict[str, Any] = {}
    for column in CSV_COLUMNS:
        value = row.get(column)
        if value is None or value == "":
            continue
        if column == "data":
            try:
                raw["data"] = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                error = FieldError("data", f"is geen geldige JSON: {json_error(exc)}")
                return Unreadable(position, error, _cell(row, "id"), _cell(row, "source"))
        else:
            raw[column] = value
    return RawEvent(position, raw)
