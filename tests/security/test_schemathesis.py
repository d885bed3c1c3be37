"""Schemathesis against the OpenAPI documents of the three services, served as deployed (one
PostgreSQL database, the embedded broker), with a credential that may call every route.

For every operation of every document, intake's `POST /v1/events` body included (in each of its
content types, NDJSON too), schemathesis generates requests that fit the document and requests
that do not. Every answer must be below
500, have a status code, content type and body the document describes, be an RFC 9457 problem
when it is not a success, and hold no BSN. Seeded (derandomized) and bounded: the same requests
every run, a few minutes on two cores.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import bearer
from e2e.test_chain import deployment
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openpyxl import load_workbook
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stroom_cli.serve import start_services
from stroom_contract.bsn import bsn_spans
from stroom_intake.api import NDJSON, SINGLE
from stroom_platform.api_standards import OPENAPI_URL, PROBLEM_JSON
from stroom_platform.broker import EmbeddedBroker

# Every scope, bound to one organisation and its case system, so each route answers for real.
EVERY_SCOPE = bearer(
    "events:write",
    "reports:read",
    "reports:read:detail",
    "caseload:read",
    "ops:read",
    "admin",
    organisation="werksaam-westfriesland",
    sources=["gws/werksaam-westfriesland"],
    subject="schemathesis",
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_MODE = 12
# Intake's body is the largest input, in four content types: it gets more examples.
EXAMPLES_WITH_A_BODY = 50
# The audit log's SHA-256 chain, in hex, may hold nine digits that pass the 11-check by chance.
HASHES = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def ndjson_lines(_: Any, value: Any) -> bytes:
    """An NDJSON body (`lines_described`): a line per item of a list, a string as it is (a line
    that is no JSON, or several), anything else as JSON on one line."""
    items = value if isinstance(value, list) else [value]
    return b"\n".join(
        item.encode(errors="surrogatepass") if isinstance(item, str) else json.dumps(item).encode()
        for item in items
    )


schemathesis.serializer(NDJSON[0])(ndjson_lines)


def lines_described(document: dict[str, Any]) -> None:
    """An NDJSON body described by what its lines hold, each the document's single event, so
    that events are generated line by line: the document itself says only that it is text."""
    for item in document["paths"].values():
        for operation in item.values():
            content = (
                operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            )
            if NDJSON[0] in content and SINGLE in content:
                content[NDJSON[0]] = {"schema": {"type": "array", "items": content[SINGLE]["schema"]}}


@pytest.fixture
async def urls(broker: EmbeddedBroker, postgres_server_url: str) -> AsyncIterator[dict[str, str]]:
    group = await start_services(await deployment(broker, postgres_server_url), "127.0.0.1")
    try:
        yield {endpoint.name: endpoint.url for endpoint in group.endpoints}
    finally:
        await group.stop()


def problem_shaped(response: Response) -> str | None:
    """What is wrong with a refusal as an RFC 9457 problem, or None."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.split(";")[0] != PROBLEM_JSON:
        return f"content type {content_type}"
    body = response.json()
    if not isinstance(body.get("type"), str) or not isinstance(body.get("title"), str):
        return "no type and title"
    if body.get("status") != response.status_code:
        return f"status {body.get('status')} in the body"
    return None


def answer_text(response: Response) -> str:
    """What an answer says, also when it is a workbook."""
    if response.headers.get("content-type", [""])[0].startswith(XLSX):
        workbook = load_workbook(io.BytesIO(response.content), read_only=True)
        return "\n".join(
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
    return response.content.decode("utf-8", errors="replace")


def fuzz_operation(operation: Any, base_url: str, mode: GenerationMode, failures: list[str]) -> None:
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES_WITH_A_BODY if "requestBody" in operation.definition.raw else EXAMPLES_PER_MODE,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=EVERY_SCOPE, timeout=60)
        problems: list[str] = []
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:
            problems.append(str(exc).split("Reproduce with")[0].strip())
        shape = problem_shaped(response)
        if shape:
            problems.append(f"[{response.status_code}] not a problem document: {shape}")
        text = HASHES.sub("#", answer_text(response))
        for start, end in bsn_spans(text):
            problems.append(f"[{response.status_code}] a BSN in the answer: {text[start - 40 : end + 40]!r}")
        for problem in problems:
            key = f"{operation.label} ({mode}): {problem[:600]}"
            if problem.split("\n")[0] not in seen:
                seen.add(problem.split("\n")[0])
                failures.append(f"{key}\n    {case.as_curl_command()}")

    try:
        check()
    except Unsatisfiable:
        # Nothing to break: the operation takes no parameters and no body.
        assert mode == GenerationMode.NEGATIVE, operation.label


def fuzz_service(url: str) -> list[str]:
    document = httpx.get(f"{url}{OPENAPI_URL}").json()
    lines_described(document)
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        # Health and ops routes live outside the versioned base URL (their own `servers`).
        servers = document["paths"][operation.path].get("servers", document["servers"])
        base_url = url + servers[0]["url"].rstrip("/")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, base_url, mode, failures)
    return failures


@pytest.mark.long
async def test_no_operation_of_any_document_fails_under_schemathesis(urls: dict[str, str]) -> None:
    run: Callable[[str], list[str]] = fuzz_service
    failures = []
    for service, url in urls.items():
        failures += [f"{service} {failure}" for failure in await asyncio.to_thread(run, url)]
    assert not failures, "\n\n".join(failures)
