"""OAuth 2.0 client_credentials against the embedded issuer: a case system registered with
`stroom oauth-client` gets a short-lived token at `POST /oauth2/token` of a running intake and
posts its events with it, bound to its organisation and sources; everything else is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from security.fields import example
from stroom_cli.main import app as cli
from stroom_contract.bsn import bsn_spans
from stroom_intake.app import create_app
from stroom_intake.settings import IntakeSettings
from stroom_platform.auth import ApiKey
from stroom_platform.oauth import FORM

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


# Hostile requests to the token endpoint: forms of known and unknown names and values, repeated
# or not, and bodies that are no form; Basic credentials right, wrong, not base64, not UTF-8 or
# without their colon, and headers of any bytes. `SECRET` stands for the registered client's; `BSN`
# passes the 11-check, and must not come back in an answer.
SECRET = "<secret>"  # noqa: S105 - a placeholder for the registered secret
BSN = "111222333"
_TEXT = st.text(max_size=30)
_NAMES = st.sampled_from(["grant_type", "scope", "client_id", "client_secret", BSN]) | _TEXT
_VALUES = st.sampled_from(
    ["client_credentials", "password", CLIENT, SECRET, BSN, "events:write", f"{BSN} ops:read", "ops:read", ""]
)
_FORMS = st.fixed_dictionaries(
    {"grant_type": st.just("client_credentials") | _VALUES | _TEXT},
    optional={
        "scope": st.sampled_from(["events:write", "ops:read events:write", "admin", ""]) | _VALUES | _TEXT,
        "client_id": st.just(CLIENT) | _TEXT,
        "client_secret": st.just(SECRET) | _TEXT,
    },
)
_BODIES = st.one_of(
    _FORMS.map(lambda form: ("form", list(form.items()))),
    st.lists(st.tuples(_NAMES, _VALUES | _TEXT), max_size=5).map(lambda pairs: ("pairs", pairs)),
    st.binary(max_size=60).map(lambda raw: ("raw", raw)),
)
_AUTHORIZATION = st.one_of(
    st.none(),
    st.tuples(st.just(CLIENT) | _TEXT, st.just(SECRET) | _TEXT).map(lambda pair: ("basic", pair)),
    st.binary(max_size=30).map(lambda raw: ("basic", raw)),
    st.binary(max_size=40).map(lambda raw: ("raw", b"Basic " + raw)),
    st.binary(max_size=40).map(lambda raw: ("raw", raw)),
)
_CONTENT_TYPES = st.one_of(
    st.just(FORM), st.sampled_from([f"{FORM}; charset=utf-8", FORM.upper(), "application/json"]), _TEXT
)
_HOSTILE = st.tuples(_BODIES, _AUTHORIZATION, _CONTENT_TYPES)
# Requests a client could send, right or wrong, so that every answer of the endpoint is reached.
_SCOPES = st.sampled_from(["", "events:write", "ops:read events:write", "admin", f"ops:read {BSN}"])
_PLAUSIBLE = st.one_of(
    st.tuples(
        st.tuples(st.sampled_from(["client_credentials", "password"]), _SCOPES).map(
            lambda form: ("form", [("grant_type", form[0]), ("scope", form[1])])
        ),
        st.tuples(st.sampled_from([CLIENT, "someone-else"]), st.sampled_from([SECRET, "wrong"])).map(
            lambda pair: ("basic", pair)
        ),
        st.just(FORM),
    ),
    st.tuples(
        st.tuples(st.sampled_from([CLIENT, "someone-else"]), st.sampled_from([SECRET, "wrong"]), _SCOPES).map(
            lambda form: (
                "form",
                [
                    ("grant_type", "client_credentials"),
                    ("client_id", form[0]),
                    ("client_secret", form[1]),
                    ("scope", form[2]),
                ],
            )
        ),
        st.none(),
        st.just(FORM),
    ),
)


def _with_secret(text: str, secret: str) -> str:
    return text.replace(SECRET, secret)


def _body(spec: tuple[str, Any], secret: str) -> bytes:
    kind, value = spec
    if kind == "raw":
        return bytes(value)
    pairs = [(_with_secret(k, secret), _with_secret(v, secret)) for k, v in value]
    if kind == "form":
        return urlencode(pairs).encode()
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def _authorization(spec: tuple[str, Any], secret: str) -> bytes:
    kind, value = spec
    if kind == "raw":
        return bytes(value)
    if isinstance(value, tuple):
        value = ":".join(quote_plus(_with_secret(part, secret)) for part in value).encode()
    return b"Basic " + base64.b64encode(value)


def intake_http(app: FastAPI) -> httpx.AsyncClient:
    """A client of an intake app served in this process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def token(http: httpx.AsyncClient, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return await http.post("/oauth2/token", data=form, headers=headers)


def started(event_id: str, source: str) -> dict[str, Any]:
    event = example("stroom.benefit.started.v1")
    return event | {"id": event_id, "source": source}


async def test_a_case_system_gets_a_token_and_posts_with_it(
    intake: FastAPI, registration: tuple[str, ApiKey]
) -> None:
    secret, _ = registration
    async with intake_http(intake) as http:
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
    async with intake_http(intake) as http:
        answer = await token(http, form, chosen)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["error"] == error
    assert secret not in answer.text
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")


async def test_a_refused_scope_is_named_only_when_it_is_one_of_stroom_s_own(
    intake: FastAPI, registration: tuple[str, ApiKey]
) -> None:
    """A client that puts its secret or a BSN in `scope` does not get it back in the refusal."""
    secret, _ = registration
    async with intake_http(intake) as http:
        for scope, detail in [
            (secret, "Een gevraagde scope bestaat niet."),
            (
                f"admin {secret} 111222333",
                "Deze client mag admin niet vragen. 2 gevraagde scopes bestaan niet.",
            ),
        ]:
            form = {"grant_type": "client_credentials", "scope": scope}
            answer = await token(http, form, basic(CLIENT, secret))
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"] == "invalid_scope"
            assert answer.json()["detail"] == detail
            assert secret not in answer.text
            assert not list(bsn_spans(answer.text))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=_PLAUSIBLE | _HOSTILE)
async def test_hostile_token_requests_get_a_token_or_a_problem(
    intake: FastAPI,
    registration: tuple[str, ApiKey],
    request: tuple[tuple[str, Any], tuple[str, Any] | None, str],
) -> None:
    body, authorization, content_type = request
    secret, entry = registration
    headers = [(b"content-type", content_type.encode())]
    if authorization is not None:
        headers.append((b"authorization", _authorization(authorization, secret)))
    async with intake_http(intake) as http:
        answer = await http.post("/oauth2/token", content=_body(body, secret), headers=headers)
    assert answer.status_code in (200, 400, 401), answer.text
    event(f"{answer.status_code} {answer.json().get('error', '')}")
    assert secret not in answer.text
    assert not list(bsn_spans(answer.text))
    if answer.status_code == 200:
        assert set(answer.json()["scope"].split()) <= set(entry.scopes)
        return
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == answer.status_code
    assert problem["error"] in (
        "invalid_request",
        "invalid_client",
        "unsupported_grant_type",
        "invalid_scope",
    )


async def test_no_token_endpoint_when_another_issuer_is_configured(app: FastAPI) -> None:
    # The tests' own issuer is configured for `app`: tokens come from there, not from Stroom.
    async with intake_http(app) as http:
        answer = await http.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert answer.status_code == 404
