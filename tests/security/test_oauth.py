"""OAuth 2.0 client_credentials against the embedded issuer: a case system registered with
`stroom oauth-client` gets a short-lived token at `POST /oauth2/token` of a running intake and
posts its events with it, bound to its organisation and sources; everything else is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from security.fields import example
from stroom_cli.main import app as cli
from stroom_intake.app import create_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.auth import ApiKey

ISSUER_VARIABLES = ("STROOM_AUTH_ISSUER", "STROOM_AUTH_PUBLIC_KEYS_FILE", "STROOM_AUTH_JWKS_URL")
CLIENT = "gws-werksaam"
SOURCE = "gws/werksaam-westfriesland"


@pytest.fixture
def registration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ApiKey]:
    """The case system's secret and entry, as `stroom oauth-client` prints them."""
    for variable in ISSUER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    printed = CliRunner().invoke(
        cli,
        [
            "oauth-client",
            "--client-id",
            CLIENT,
            "--scope",
            "events:write",
            "--scope",
            "ops:read",
            "--organisation",
            "werksaam-westfriesland",
            "--source",
            SOURCE,
        ],
    )
    assert printed.exit_code == 0, printed.output
    lines = printed.output.strip().splitlines()
    secret = lines[1].rsplit(" ", 1)[1]
    entry = ApiKey.model_validate(json.loads(lines[-1]))
    assert secret not in printed.output.split(secret, 1)[1], "the entry holds the hash, not the secret"
    return secret, entry


@pytest.fixture
async def intake(
    settings: IntakeSettings, registration: tuple[str, ApiKey], tmp_path: Path
) -> AsyncIterator[FastAPI]:
    embedded = settings.model_copy(
        update={
            "auth_issuer": None,
            "auth_public_keys_file": None,
            "data_dir": tmp_path / "var",
            "oauth_clients": [registration[1]],
        }
    )
    application = create_app(embedded)
    async with application.router.lifespan_context(application):
        yield application


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token(http: httpx.AsyncClient, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return await http.post("/oauth2/token", data=form, headers=headers)


def started(event_id: str, source: str) -> dict[str, Any]:
    event = example("stroom.benefit.started.v1")
    return event | {"id": event_id, "source": source}


async def test_a_case_system_gets_a_token_and_posts_with_it(
    intake: FastAPI, registration: tuple[str, ApiKey]
) -> None:
    secret, _ = registration
    transport = httpx.ASGITransport(app=intake)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        answer = await token(http, {"grant_type": "client_credentials"}, basic(CLIENT, secret))
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        issued = answer.json()
        assert issued["token_type"] == "Bearer"  # noqa: S105 - the OAuth token type, no secret
        assert issued["expires_in"] == 300
        assert issued["scope"] == "events:write ops:read"
        claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
        assert claims["sub"] == CLIENT
        assert claims["exp"] - claims["iat"] == 300
        assert claims["organisation"] == "werksaam-westfriesland"
        assert claims["sources"] == [SOURCE]
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}

        posted = await http.post(
            "/v1/events",
            content=orjson.dumps([started("oauth-1", SOURCE), started("oauth-2", "gws/ijmond-werkt")]),
            headers={"content-type": "application/cloudevents-batch+json", **bearer},
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["accepted"] == 1
        assert [(r["id"], r["field"]) for r in posted.json()["refused"]] == [("oauth-2", "source")]

        # Asking for less is fine; the token then carries only that.
        narrow = await token(
            http,
            {
                "grant_type": "client_credentials",
                "scope": "ops:read",
                "client_id": CLIENT,
                "client_secret": secret,
            },
            {},
        )
        assert narrow.status_code == 200, narrow.text
        only_ops = {"Authorization": f"Bearer {narrow.json()['access_token']}"}
        assert (await http.get("/status", headers=only_ops)).status_code == 200
        refused = await http.post(
            "/v1/events",
            content=orjson.dumps(started("oauth-3", SOURCE)),
            headers={"content-type": "application/cloudevents+json", **only_ops},
        )
        assert refused.status_code == 403


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, "wrong-secret", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "unknown-client", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "none", 401, "invalid_client"),
        ({"grant_type": "password"}, "right", 400, "unsupported_grant_type"),
        ({}, "right", 400, "invalid_request"),
        ({"scope": "events:write"}, "right", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "events:write admin"}, "right", 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "client_id": CLIENT}, "right", 400, "invalid_request"),
    ],
)
async def test_what_the_token_endpoint_refuses(
    intake: FastAPI,
    registration: tuple[str, ApiKey],
    form: dict[str, str],
    headers: str,
    status: int,
    error: str,
) -> None:
    secret, _ = registration
    chosen = {
        "right": basic(CLIENT, secret),
        "wrong-secret": basic(CLIENT, secret + "x"),
        "unknown-client": basic("someone-else", secret),
        "none": {},
    }[headers]
    transport = httpx.ASGITransport(app=intake)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        answer = await token(http, form, chosen)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["error"] == error
    assert secret not in answer.text
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")


async def test_no_token_endpoint_when_another_issuer_is_configured(app: FastAPI) -> None:
    # The tests' own issuer is configured for `app`: tokens come from there, not from Stroom.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        answer = await http.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert answer.status_code == 404
