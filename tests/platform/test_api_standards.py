"""The NL API Design Rules on the three running services: `API-Version` on every response of
every route (errors and health included), invalid input as a 400 problem listing each error,
the OpenAPI document at /v1/openapi.json, renamed query keys still read under their old name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from caseload.integration.test_consumer import prepared
from conftest import PSEUDONYM_KEY, bearer
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from jsonschema import Draft202012Validator
from reporting.integration.conftest import loaded_sqlite_database, reporting_app
from starlette.routing import Mount

from stroom_caseload.app import create_app as caseload_app
from stroom_intake.app import create_app as intake_app
from stroom_intake.commands import migrate as migrate_intake
from stroom_intake.settings import IntakeSettings
from stroom_platform.api_standards import API_VERSION_HEADER
from stroom_platform.broker import EmbeddedBroker

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
# Path parameters of the routes, filled with values that exist in the loaded data.
PATH_VALUES = {"code": "GM0405", "coach_ref": "coach-1"}
# Every route is also asked with an invalid `asOf` and with a method it does not serve.
UNSUPPORTED_METHOD = "PATCH"


@pytest.fixture
async def services(
    tmp_path: Path, broker: EmbeddedBroker, postgres_server_url: str
) -> AsyncIterator[dict[str, FastAPI]]:
    intake_url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    await migrate_intake(intake_url)
    intake = intake_app(IntakeSettings(pseudonym_key=PSEUDONYM_KEY, database_url=intake_url))
    caseload = caseload_app(await prepared(broker, postgres_server_url))
    reporting = reporting_app(await loaded_sqlite_database(tmp_path / "reporting.db"))
    async with (
        intake.router.lifespan_context(intake),
        caseload.router.lifespan_context(caseload),
        reporting.router.lifespan_context(reporting),
    ):
        yield {"intake": intake, "caseload": caseload, "reporting": reporting}
    await reporting.state.runtime.engine.dispose()


# Every scope, so that every route answers as it does for a caller allowed to use it.
ALL_SCOPES = bearer(
    "events:write",
    "reports:read",
    "caseload:read",
    "reports:read:detail",
    "ops:read",
    "admin",
    organisation="werksaam-westfriesland",
    sources=["gws/hoorn"],
)


def client(app: FastAPI) -> httpx.AsyncClient:
    # The 500 handler re-raises after answering; the answer is what a caller gets.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://stroom", headers=ALL_SCOPES)


def requests_for(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every route the app serves, and an unsupported method on each."""
    requests: list[tuple[str, str]] = []
    # Included routers are routes of their own; iter_route_contexts gives the routes inside.
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            requests += [("GET", f"{route.path}/index.html"), ("GET", f"{route.path}/no-such-file")]
        else:
            assert route.path is not None
            path = route.path.format(**PATH_VALUES)
            methods = sorted(set(route.methods or ()) - {"HEAD"})
            requests += [(method, path) for method in methods]
            requests += [(method, f"{path}?asOf=not-a-time") for method in methods]
            requests.append((UNSUPPORTED_METHOD, path))
    requests.append(("GET", "/no-such-path"))
    return requests


async def test_every_response_of_every_route_names_the_api_version(services: dict[str, FastAPI]) -> None:
    for name, app in services.items():
        assert SEMVER.match(app.version), name

        async def boom() -> None:
            raise RuntimeError("an unexpected failure")

        app.add_api_route("/test-only/boom", boom)
        requests = requests_for(app)
        assert len(requests) > 8, name
        statuses: set[int] = set()
        async with client(app) as http:
            for method, path in [*requests, ("GET", "/test-only/boom")]:
                response = await http.request(method, path)
                statuses.add(response.status_code)
                assert response.headers.get(API_VERSION_HEADER) == app.version, (name, method, path)
                if response.status_code >= 400:
                    assert response.headers["content-type"] == "application/problem+json", (name, path)
            # Starlette's and the crash handler's titles are the platform's, in Dutch.
            titles = [
                (await http.request(method, path)).json()["title"]
                for method, path in [
                    ("GET", "/no-such-path"),
                    (UNSUPPORTED_METHOD, "/v1/openapi.json"),
                    ("GET", "/test-only/boom"),
                ]
            ]
            assert titles == ["Niet gevonden", "Methode niet toegestaan", "Interne fout"], name
        # Health and success, redirects, invalid input, unknown paths and methods, and a crash.
        assert {200, 404, 405, 500} <= statuses, (name, statuses)
        assert statuses & {400, 415}, (name, statuses)


async def test_the_openapi_document_is_at_v1_and_documents_the_version_header(
    services: dict[str, FastAPI],
) -> None:
    for name, app in services.items():
        async with client(app) as http:
            moved = await http.get("/openapi.json")
            assert moved.status_code == 308
            assert moved.headers["location"] == "/v1/openapi.json"
            document = (await http.get("/v1/openapi.json")).json()
        assert document["info"]["version"] == app.version
        assert document["servers"][0]["url"] == "/v1"
        operations = [op for item in document["paths"].values() for op in item.values() if "responses" in op]
        assert operations, name
        for operation in operations:
            assert "422" not in operation["responses"]
            for code, response in operation["responses"].items():
                assert API_VERSION_HEADER in response["headers"], (name, operation["operationId"], code)


async def test_invalid_input_is_a_400_problem_listing_each_error(services: dict[str, FastAPI]) -> None:
    async with client(services["caseload"]) as http:
        response = await http.get(
            "/v1/caseload/coaches/x", params={"date": "2022-13-01", "asOf": "yesterday"}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"]
    assert problem["detail"]
    assert sorted(e["field"] for e in problem["errors"]) == ["query.asOf", "query.date"]

    async with client(services["reporting"]) as http:
        response = await http.get("/v1/reports/monthly/trace", params={"municipality": "GM0405"})
        single = await http.get("/v1/reports/monthly", params={"municipality": "GM9999"})
    assert response.status_code == 400
    fields = sorted(e["field"] for e in response.json()["errors"])
    assert fields == ["query.measure", "query.month", "query.regulation", "query.unit"]
    # A refusal for one reason lists it too.
    assert single.status_code == 400
    assert single.headers["content-type"] == "application/problem+json"
    assert [e["message"] for e in single.json()["errors"]] == [single.json()["detail"]]


async def test_renamed_query_keys_are_read_under_their_old_name_with_a_deprecation_header(
    services: dict[str, FastAPI],
) -> None:
    query = {"municipality": "GM0405", "from": "2024-01", "to": "2024-03"}
    async with client(services["reporting"]) as http:
        early = {**query, "asOf": "2024-02-01T00:00:00Z"}
        new = await http.get("/v1/reports/monthly", params=early)
        old = await http.get("/v1/reports/monthly", params={**query, "as_of": "2024-02-01T00:00:00Z"})
        # The old name percent-encoded is the old name too.
        encoded = await http.get(
            "/v1/reports/monthly?municipality=GM0405&from=2024-01&to=2024-03&as%5Fof=2024-02-01T00:00:00Z"
        )
        now = await http.get("/v1/reports/monthly", params=query)
        day = await http.get("/v1/reports/composition", params={**query, "stock_date": "2024-03-31"})
        same_day = await http.get("/v1/reports/composition", params={**query, "stockDate": "2024-03-31"})
    assert new.status_code == old.status_code == 200
    assert "Deprecation" not in new.headers
    assert old.headers["Deprecation"].startswith("@")
    assert old.json() == new.json() == encoded.json() != now.json()
    assert encoded.headers["Deprecation"] == old.headers["Deprecation"]
    assert day.json() == same_day.json()
    assert "Deprecation" in day.headers


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, full path, operation) for every documented operation."""
    found = []
    for path, item in document["paths"].items():
        base = (item.get("servers") or document["servers"])[0]["url"].rstrip("/")
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), base + path, operation))
    return found


async def test_every_json_answer_matches_the_schema_its_operation_documents(
    services: dict[str, FastAPI],
) -> None:
    checked = []
    for name, app in services.items():
        async with client(app) as http:
            document = (await http.get("/v1/openapi.json")).json()
            for method, path, operation in _operations(document):
                response = await http.request(method, path.format(**PATH_VALUES))
                if response.status_code >= 300 or response.headers["content-type"] != "application/json":
                    continue
                documented = operation["responses"][str(response.status_code)]
                schema = documented["content"]["application/json"]["schema"]
                validator = Draft202012Validator({**schema, "components": document["components"]})
                errors = [
                    f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
                ]
                assert errors == [], (name, method, path)
                checked.append(f"{name} {method} {path}")
    # Every service's answers were among them, the reports too.
    assert {line.split()[0] for line in checked} == set(services)
    assert any("/reports/monthly" in line for line in checked)
