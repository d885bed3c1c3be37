"""What the NL API Design Rules (ADR, Logius) ask of every Stroom HTTP API, in one place.

* `API-Version` (full semver) on every response, errors and health included (/core/version-header);
* the OpenAPI document at `/v1/openapi.json` with contact and servers, the major version in the
  server URL (/core/uri-version), every operation documenting its `API-Version` header, its 400
  and its problem+json errors (/core/error-handling);
* camelCase query keys (/core/query-keys-camel-case): a renamed key keeps working for one minor
  version, answered with a `Deprecation` header (RFC 9745) that says since when.

CI lints the served documents with the ADR's own Spectral ruleset (`scripts/lint-openapi.sh`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_VERSION_HEADER = "API-Version"
_VERSION_KEY = API_VERSION_HEADER.lower().encode("latin-1")
OPENAPI_URL = "/v1/openapi.json"
API_PREFIX = "/v1"
CONTACT = {
    "name": "Stroom-beheer",
    "email": "beheer@stroom.example",
    "url": "https://stroom.example/contact",
}
# The renamed query keys (snake_case -> camelCase) were deprecated on this day; from the next
# minor version on only the camelCase key is read.
KEYS_DEPRECATED_ON = datetime(2026, 12, 2, tzinfo=UTC)
PROBLEM_JSON = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_VERSION_HEADER_DOC = {
    "description": "De volledige versie van deze API (semver).",
    "schema": {"type": "string", "example": "1.0.0"},
}


class ProblemError(BaseModel):
    """Eén reden waarom een verzoek werd geweigerd: het veld (of positie, id, regel) en wat er mis is."""

    model_config = ConfigDict(extra="allow")

    field: str | None = Field(default=None, description="Het veld, bijvoorbeeld `query.asOf`.")
    message: str = Field(description="Wat er mis is.")


class ProblemDocument(BaseModel):
    """Problem details volgens RFC 9457, waarmee elke API van Stroom elke fout beantwoordt."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="URI van het soort probleem.")
    title: str = Field(description="Korte Nederlandse samenvatting.")
    status: int = Field(description="De HTTP-statuscode.")
    detail: str | None = Field(default=None, description="Uitleg voor mensen, in het Nederlands.")
    instance: str | None = Field(default=None, description="Het pad van het verzoek.")
    errors: list[ProblemError] | None = Field(
        default=None, description="Bij ongeldige invoer: elke fout afzonderlijk."
    )


class ApiStandardsMiddleware:
    """Adds `API-Version` to every response and reads renamed query keys under their new name."""

    def __init__(self, app: ASGIApp, version: str, renamed_query_keys: Mapping[str, str]) -> None:
        self.app = app
        self.version = version
        self.renamed = dict(renamed_query_keys)
        # A query string can hold a renamed key only spelled out or percent-encoded: one without
        # either is not parsed.
        self.spelled = tuple(key.encode("latin-1") for key in self.renamed)
        self.version_value = version.encode("latin-1")
        self.deprecation = f"@{int(KEYS_DEPRECATED_ON.timestamp())}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deprecated = False
        query: bytes = scope.get("query_string", b"")
        if self.spelled and (b"%" in query or any(key in query for key in self.spelled)):
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if any(key in self.renamed for key, _ in pairs):
                deprecated = True
                renamed = [(self.renamed.get(key, key), value) for key, value in pairs]
                scope = {**scope, "query_string": urlencode(renamed).encode("latin-1")}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw names are lower case in ASGI, as Starlette's responses write them.
                headers = message["headers"] = list(message.get("headers", ()))
                for name, _ in headers:
                    if name == _VERSION_KEY:
                        break
                else:
                    headers.append((_VERSION_KEY, self.version_value))
                if deprecated:
                    headers.append((b"deprecation", self.deprecation))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_api_standards(
    app: FastAPI,
    renamed_query_keys: Mapping[str, str] | None = None,
    schemas: Mapping[str, Any] | None = None,
) -> None:
    """Call after all routes are included; `app.version` must be the full semver. `schemas` are
    component schemas the routes refer to that FastAPI does not know of (request bodies a route
    reads itself)."""
    app.state.api_version = app.version
    app.add_middleware(
        ApiStandardsMiddleware, version=app.version, renamed_query_keys=renamed_query_keys or {}
    )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_moved() -> RedirectResponse:
        return RedirectResponse(OPENAPI_URL, status_code=308)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = standardise(generate(), app.version, schemas)
        return app.openapi_schema

    # FastAPI caches the generated document in `openapi_schema` and serves whatever this returns.
    app.openapi = openapi  # type: ignore[method-assign]


def summary_of(description: str) -> str:
    """An operation's title: the first sentence of its (Dutch) description. Without one FastAPI
    titles an operation after its function's English name ("Get Status")."""
    paragraph = " ".join(description.split("\n\n", 1)[0].split())
    return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0].rstrip(".")


def standardise(
    document: dict[str, Any], version: str, schemas: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The document FastAPI generates, as the ADR wants it described."""
    doc = copy.deepcopy(document)
    doc["info"]["version"] = version
    doc["info"]["contact"] = dict(CONTACT)
    doc["servers"] = [{"url": API_PREFIX, "description": "Versie 1 van deze API"}]
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(copy.deepcopy(dict(schemas or {})))
    components.update(_problem_schemas())
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    paths: dict[str, Any] = {}
    for path, item in doc.get("paths", {}).items():
        if path.startswith(API_PREFIX + "/"):
            paths[path.removeprefix(API_PREFIX)] = item
        else:
            # Health, readiness, status and metrics live outside the versioned base URL.
            paths[path] = {**item, "servers": [{"url": "/"}]}
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                _standardise_operation(method, operation)
    doc["paths"] = paths
    return doc


def _problem_schemas() -> dict[str, Any]:
    schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {API_VERSION_HEADER: _VERSION_HEADER_DOC},
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }


def _standardise_operation(method: str, operation: dict[str, Any]) -> None:
    if operation.get("description"):
        operation["summary"] = summary_of(operation["description"])
    responses: dict[str, Any] = operation.setdefault("responses", {})
    # Invalid input is a 400 (ADR /core/error-handling/invalid-input), never FastAPI's 422.
    responses.pop("422", None)
    takes_input = method not in {"get", "delete"} or bool(operation.get("parameters"))
    if takes_input and "400" not in responses:
        responses["400"] = _problem_response("Ongeldige invoer; `errors` noemt elke fout.")
    if operation.get("security"):
        responses.setdefault("401", _problem_response("Geen, een verlopen of een ongeldige credential."))
        responses.setdefault("403", _problem_response("De credential mist de scope of de gemeente."))
        responses.setdefault("429", _problem_response("Te veel verzoeken met deze credential."))
        responses.setdefault(
            "503", _problem_response("De database antwoordt nu niet; opnieuw na `Retry-After` seconden.")
        )
    responses.setdefault("500", _problem_response("Onverwachte fout in de dienst."))
    for code, response in responses.items():
        # FastAPI describes every undocumented success in English.
        if response.get("description") == "Successful Response":
            response["description"] = "Gelukt."
        response.setdefault("headers", {})[API_VERSION_HEADER] = _VERSION_HEADER_DOC
        if code[:1] in {"4", "5"}:
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
