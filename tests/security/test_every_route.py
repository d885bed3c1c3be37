"""Every route of every service, enumerated from the apps themselves so that a new one cannot be
forgotten: without a credential it is refused (401), with a credential lacking every scope too
(403), and a token in its URL is refused (400). Only the health checks, the OpenAPI document, the
API docs and the dashboard's static page answer without one."""

from __future__ import annotations

import re

from conftest import bearer
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from security.conftest import client_of
from stroom_platform.api_docs import ASSETS_URL, DOCS_URL
from stroom_platform.api_standards import OPENAPI_URL

# `/openapi.json` redirects to the document (NL API Design Rules: /v1/openapi.json); the docs
# page and its script are static.
PUBLIC = {"/healthz", "/readyz", "/", "/openapi.json", DOCS_URL, f"{DOCS_URL}/init.js"}
# The OpenAPI document itself is FastAPI's own route, no API route.
DOCUMENTATION = {OPENAPI_URL}
# Static files without data: the dashboard's page and script, the docs page's assets.
STATIC = {"/static", ASSETS_URL}
SAMPLE_PARAMETERS = {"code": "GM0405", "coach_ref": "K-7"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE_PARAMETERS.get(m.group(1), "x"), path)


def api_routes(application: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every API route, also of the routers an app includes."""
    routes = []
    for context in iter_route_contexts(application.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            routes.extend((method, str(context.path)) for method in sorted(context.methods or ()))
        elif isinstance(route, Route):
            assert route.path in DOCUMENTATION, f"{route.path} is neither an API route nor documentation"
        else:
            assert isinstance(route, Mount), route
            assert route.path in STATIC, route
    return routes


async def test_every_route_needs_a_credential_with_a_scope(apps: dict[str, FastAPI]) -> None:
    scopeless = bearer(subject="nobody-in-particular")
    checked = 0
    for name, application in apps.items():
        routes = api_routes(application)
        assert routes, name
        async with client_of(application) as client:
            for method, path in routes:
                url = concrete(path)
                if path in PUBLIC:
                    # 200, a redirect, or 503 from a readiness check of a consumer not started here.
                    assert (await client.request(method, url)).status_code in (200, 308, 503), (name, path)
                    continue
                anonymous = await client.request(method, url)
                assert anonymous.status_code == 401, (name, method, path, anonymous.text)
                assert anonymous.headers["www-authenticate"].startswith("Bearer"), (name, path)
                assert anonymous.headers["content-type"].startswith("application/problem+json")
                refused = await client.request(method, url, headers=scopeless)
                assert refused.status_code == 403, (name, method, path, refused.text)
                assert 'error="insufficient_scope"' in refused.headers["www-authenticate"], (name, path)
                in_url = await client.request(method, url, params={"token": "x"}, headers=scopeless)
                assert in_url.status_code == 400, (name, method, path)
                checked += 1
    assert checked >= 15  # intake 3, caseload 4, reporting 12 at the time of writing


async def test_documentation_and_health_need_no_credential(apps: dict[str, FastAPI]) -> None:
    for name, application in apps.items():
        async with client_of(application) as client:
            for path in (OPENAPI_URL, "/docs", "/healthz"):
                assert (await client.get(path)).status_code == 200, (name, path)
            document = (await client.get(OPENAPI_URL)).json()
            schemes = document["components"]["securitySchemes"]
            assert {"type": "http", "scheme": "bearer"}.items() <= schemes["HTTPBearer"].items(), name
            assert schemes["APIKeyHeader"]["name"] == "X-API-Key", name


async def test_the_dashboard_page_holds_no_data_and_its_data_needs_a_credential(
    apps: dict[str, FastAPI],
) -> None:
    async with client_of(apps["reporting"]) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert "Aanmelden" in page.text
        script = (await client.get("/static/dashboard.js")).text
        assert "sessionStorage" in script
        assert "location.hash" in script
        assert 'location.search).get("token")' not in script
        assert (await client.get("/v1/organisations")).status_code == 401
