"""The embedded issuer and the settings: no configuration means Stroom signs its own tokens
(a key of its owner only), never "no authentication"; what is empty, a placeholder or unsafe is
refused at start-up naming the variable; API keys are configured as hashes; a JWKS URL works."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jwt
import pytest
from conftest import SIGNING_KEY, mint
from pydantic import ValidationError
from reporting.integration.conftest import loaded_database
from typer.testing import CliRunner

from security.conftest import client_of
from stroom_cli.main import app as cli
from stroom_platform.auth import ApiKey, hash_api_key
from stroom_platform.issuer import KEY_FILE, build_authenticator
from stroom_reporting.app import create_app as reporting_app
from stroom_reporting.settings import ReportingSettings

ISSUER_VARIABLES = ("STROOM_AUTH_ISSUER", "STROOM_AUTH_PUBLIC_KEYS_FILE", "STROOM_AUTH_JWKS_URL")


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An installation without an issuer configured, its data directory."""
    for variable in ISSUER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


async def test_stroom_token_signs_what_the_embedded_services_accept(embedded: Path, tmp_path: Path) -> None:
    url = await loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}")
    service = reporting_app(ReportingSettings(DATABASE_URL=url, consume=False))
    key = embedded / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    printed = CliRunner().invoke(cli, ["token", "--scope", "reports:read", "--municipality", "GM0405"])
    assert printed.exit_code == 0, printed.output
    token = printed.output.strip()
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    async with client_of(service, {"Authorization": f"Bearer {token}"}) as client:
        answer = await client.get("/v1/organisations")
        assert answer.status_code == 200
        assert [m["code"] for o in answer.json() for m in o["municipalities"]] == ["GM0405"]
        # The tests' own issuer is not this installation's.
        foreign = await client.get(
            "/v1/organisations", headers={"Authorization": f"Bearer {mint('reports:read')}"}
        )
        assert foreign.status_code == 401
    await service.state.runtime.engine.dispose()
    # A second start keeps the key: tokens signed before stay valid.
    before = key.read_bytes()
    build_authenticator(
        ReportingSettings(DATABASE_URL=url, consume=False), service.state.runtime.organisations
    )
    assert key.read_bytes() == before


def test_a_key_others_may_read_is_refused(embedded: Path) -> None:
    settings = ReportingSettings(consume=False)
    organisations = reporting_app(settings).state.runtime.organisations
    (embedded / KEY_FILE).chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        build_authenticator(settings, organisations)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("STROOM_AUTH_ISSUER", "", "auth_issuer"),
        ("STROOM_AUTH_ISSUER", "changeme", "auth_issuer"),
        ("STROOM_AUTH_AUDIENCE", " ", "auth_audience"),
        ("STROOM_AUTH_ALGORITHMS", '["RS256", "HS256"]', "HS256"),
        ("STROOM_AUTH_ALGORITHMS", '["none"]', "none"),
        ("STROOM_AUTH_JWKS_URL", "http://idp.example/jwks", "https"),
        ("STROOM_API_TOKENS", "token=GM0405", "STROOM_API_TOKENS"),
        ("STROOM_API_KEYS", '[{"hash": "sha256:abc", "subject": "x", "scopes": ["ops:read"]}]', "hash"),
    ],
)
def test_unsafe_settings_are_refused_at_start_up_naming_what(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=named):
        ReportingSettings()


def test_stroom_serve_says_what_is_wrong_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROOM_AUTH_ISSUER", "")
    result = CliRunner().invoke(cli, ["serve", "reporting", "--no-migrate"])
    assert result.exit_code == 2
    assert "STROOM_AUTH_ISSUER" in result.output
    assert "Traceback" not in result.output


async def test_api_keys_are_configured_as_hashes(tmp_path: Path) -> None:
    url = await loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}")
    key = "stroom_" + "k" * 43
    entry = ApiKey(
        hash=hash_api_key(key), subject="rapportagetool", scopes=["reports:read"], municipalities=["GM0405"]
    )
    settings = ReportingSettings(DATABASE_URL=url, consume=False, api_keys=[entry])
    assert key not in settings.model_dump_json()
    service = reporting_app(settings)
    async with client_of(service) as client:
        assert (await client.get("/v1/organisations", headers={"X-API-Key": key})).status_code == 200
        assert (await client.get("/v1/organisations", headers={"X-API-Key": key + "x"})).status_code == 401
        assert (await client.get("/v1/organisations", params={"api_key": key})).status_code == 400
        writes = await client.get("/v1/reports/monthly/trace", headers={"X-API-Key": key})
        assert writes.status_code == 403
    await service.state.runtime.engine.dispose()


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """The tests' issuer publishing its key as a JWKS on a local address."""
    document = json.dumps(
        {"keys": [json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(SIGNING_KEY.public_key()))]}
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


async def test_keys_from_a_jwks_url(monkeypatch: pytest.MonkeyPatch, jwks_url: str, tmp_path: Path) -> None:
    monkeypatch.delenv("STROOM_AUTH_PUBLIC_KEYS_FILE")
    monkeypatch.setenv("STROOM_AUTH_JWKS_URL", jwks_url)
    url = await loaded_database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}")
    service = reporting_app(ReportingSettings(DATABASE_URL=url, consume=False))
    async with client_of(service) as client:
        good = await client.get(
            "/v1/organisations", headers={"Authorization": f"Bearer {mint('reports:read')}"}
        )
        assert good.status_code == 200
        wrong = mint("reports:read", issuer="https://elsewhere.example")
        assert (
            await client.get("/v1/organisations", headers={"Authorization": f"Bearer {wrong}"})
        ).status_code == 401
    await service.state.runtime.engine.dispose()
