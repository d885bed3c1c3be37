"""HTTP endpoints of intake: `POST /v1/events` (CloudEvents HTTP binding).

Answers to `POST /v1/events`:
* 202 with `{accepted, duplicates, conflicts, refused}` when at least one event is now held
  (newly accepted or a redelivery); `conflicts` and `refused` list the events that were not
  (position, id, source, field, message). Publication to Kafka follows asynchronously.
* 400 problem (`errors`: one entry per bad field) when events were offered and none is held
  because each was refused (the ADR answers invalid input with 400, not 422); 409 problem when
  none is held and only conflicts remain: an event whose (source, id) was accepted before with
  different content (the first one is kept).
* 400 malformed JSON (line/column, or each unparseable NDJSON line: then nothing is stored),
  413 body too large, 415 unsupported content type.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from stroom_contract.messages import counted
from stroom_contract.schema import openapi_events
from stroom_intake.domain.outcome import IngestReport
from stroom_intake.domain.reading import MalformedBody, RawEvent, Unreadable, read_json, read_ndjson
from stroom_intake.runtime import IntakeRuntime
from stroom_platform.auth import Writer
from stroom_platform.problems import Problem

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
NDJSON = ("application/x-ndjson", "application/ndjson")
PLAIN = "application/json"
SUPPORTED = [SINGLE, BATCH, *NDJSON, PLAIN]


class EventOutcome(BaseModel):
    """Eén event dat niet werd aangenomen: waar het in het verzoek stond, welk het was en waarom."""

    index: int = Field(description="Positie in de batch, vanaf 0.")
    line: int | None = Field(default=None, description="Regel in NDJSON, vanaf 1.")
    id: str | None
    source: str | None
    field: str | None = Field(default=None, description="Het veld dat het contract breekt.")
    message: str


class IngestSummary(BaseModel):
    accepted: int = Field(description="Nieuw aangenomen events.")
    duplicates: int = Field(description="Eerder aangenomen events met dezelfde inhoud (tellen eenmaal).")
    conflicts: list[EventOutcome] = Field(description="Zelfde source en id, andere inhoud: niet aangenomen.")
    refused: list[EventOutcome] = Field(description="Events die het contract breken, per veld.")


# The route reads its body itself (batches are accepted event by event), so FastAPI cannot
# describe it: the contract's schemas do, for clients and for schemathesis.
_ONE_EVENT, EVENT_SCHEMAS = openapi_events()
_BATCH = {"type": "array", "items": _ONE_EVENT}
_REQUEST_BODY = {
    "required": True,
    "content": {
        SINGLE: {"schema": _ONE_EVENT},
        BATCH: {"schema": _BATCH},
        PLAIN: {"schema": {"oneOf": [_ONE_EVENT, _BATCH]}},
        NDJSON[0]: {"schema": {"type": "string", "description": "Eén CloudEvent (JSON) per regel."}},
    },
}

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {"description": "Niets aangenomen: alleen conflicten met eerder aangenomen events."},
    413: {"description": "Verzoek te groot."},
    415: {"description": "Niet-ondersteund content type."},
}


def runtime(request: Request) -> IntakeRuntime:
    value: IntakeRuntime = request.app.state.runtime
    return value


Runtime = Annotated[IntakeRuntime, Depends(runtime)]
router = APIRouter()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = Problem(
        413,
        "body-too-large",
        "Verzoek te groot",
        f"Stuur hoogstens {limit} bytes per verzoek.",
        limit=limit,
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    # Content-Length can be absent (chunked) or wrong: count what actually arrives.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _items(media_type: str, body: bytes) -> list[RawEvent | Unreadable]:
    try:
        if media_type in NDJSON:
            items = list(read_ndjson(body.split(b"\n")))
            unreadable = [item for item in items if isinstance(item, Unreadable)]
            if unreadable:
                errors = [{"line": u.position.line, "message": u.error.message} for u in unreadable]
                raise Problem(
                    400,
                    "malformed-json",
                    "Ongeldige JSON",
                    f"{counted(len(unreadable), 'regel is', 'regels zijn')} geen geldige JSON;"
                    " er is niets geaccepteerd.",
                    errors=errors,
                )
            return items
        batch = {SINGLE: False, BATCH: True}.get(media_type)
        return list(read_json(body, batch=batch))
    except MalformedBody as exc:
        raise Problem(
            400, "malformed-json", "Ongeldige JSON", exc.message, line=exc.line, column=exc.column
        ) from None


def _answer(report: IngestReport, offered: int) -> Response:
    summary = report.summary()
    if report.acknowledged or offered == 0:
        return Response(orjson.dumps(summary), status_code=202, media_type="application/json")
    if report.refusals:
        raise Problem(
            400,
            "invalid-events",
            "Geen event geaccepteerd",
            f"{len(report.refusals)} van {counted(offered, 'event', 'events')}"
            f" {'voldoet' if len(report.refusals) == 1 else 'voldoen'} niet aan het contract; zie `errors`.",
            errors=summary["refused"],
            conflicts=summary["conflicts"],
        )
    raise Problem(
        409,
        "event-conflict",
        "Tegenstrijdige herhaling",
        "Een event met dezelfde source en id maar andere inhoud is eerder geaccepteerd; dat blijft staan.",
        conflicts=summary["conflicts"],
    )


@router.post(
    "/v1/events",
    status_code=202,
    tags=["intake"],
    response_model=IngestSummary,
    responses=_PROBLEMS,
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def post_events(request: Request, rt: Runtime, writer: Writer) -> Response:
    """Neem één event, een batch of NDJSON aan; de antwoorden staan in de documentatie van de module."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in SUPPORTED:
        raise Problem(
            415,
            "unsupported-media-type",
            "Inhoudstype niet ondersteund",
            f"Stuur een van: {', '.join(SUPPORTED)}.",
            supported=SUPPORTED,
        )
    body = await _read_body(request, rt.settings.max_body_bytes)
    items = _items(media_type, body)
    report = await rt.ingest(items, writer)
    return _answer(report, len(items))
