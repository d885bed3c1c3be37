"""The embedded issuer and the settings: no configuration means Stroom signs its own tokens
(a key of its owner only), never "no authentication"; what is empty, a placeholder or unsafe is
refused at start-up naming the variable; API keys are configured as hashes; a JWKS URL works."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import SIGNING_KEY, TEST_AUDIENCE, TEST_ISSUER, mint
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from reporting.integration.conftest import loaded_sqlite_database
from typer.testing import CliRunner

from security.conftest import client_of
from stroom_cli.main import app as cli
from stroom_platform.auth import (
    JWKS_REFETCH_SECONDS,
    JWKS_REFRESH_SECONDS,
    ApiKey,
    Authenticator,
    AuthProblem,
    TokenVerifier,
    VerifiedTokens,
    hash_api_key,
)
from stroom_platform.issuer import KEY_FILE, build_authenticator, load_or_create_signing_key
from stroom_platform.organisations import OrganisationsConfig
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
    url = await loaded_sqlite_database(tmp_path / "reporting.db")
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
    url = await loaded_sqlite_database(tmp_path / "reporting.db")
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


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid}


@pytest.fixture
def published() -> list[dict[str, Any]]:
    """The keys the tests' JWKS publishes, as JWKs; a test may withdraw or add one."""
    return [_jwk(SIGNING_KEY, "tests")]


@pytest.fixture
def fetches() -> list[str]:
    """The paths the tests' JWKS was asked for, one per request."""
    return []


@pytest.fixture
def jwks_url(published: list[dict[str, Any]], fetches: list[str]) -> Iterator[str]:
    """The tests' issuer publishing its keys as a JWKS on a local address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"keys": published}).encode())

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_keys_from_a_jwks_url(monkeypatch: pytest.MonkeyPatch, jwks_url: str, tmp_path: Path) -> None:
    monkeypatch.delenv("STROOM_AUTH_PUBLIC_KEYS_FILE")
    monkeypatch.setenv("STROOM_AUTH_JWKS_URL", jwks_url)
    url = await loaded_sqlite_database(tmp_path / "reporting.db")
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


async def test_a_key_withdrawn_from_the_jwks_stops_verifying_within_the_refresh_interval(
    organisations: OrganisationsConfig, jwks_url: str, published: list[dict[str, Any]]
) -> None:
    now = [time.time()]
    verifier = TokenVerifier(TEST_ISSUER, TEST_AUDIENCE, ["EdDSA"], jwks_url=jwks_url, clock=lambda: now[0])
    authenticator = Authenticator(organisations, verifier)
    withdrawn = Ed25519PrivateKey.generate()
    published.append(_jwk(withdrawn, "withdrawn"))
    token = mint("reports:read", key=withdrawn, ttl_seconds=24 * 3600)
    assert (await authenticator.token_principal(token)).subject == "test-client"
    published.pop()
    # Until the key set's refresh the verdict stands, from the cache as from the cached keys ...
    now[0] += JWKS_REFRESH_SECONDS - 1
    assert (await authenticator.token_principal(token)).subject == "test-client"
    authenticator.verified = VerifiedTokens()
    assert (await authenticator.token_principal(token)).subject == "test-client"
    # ... and at the refresh the withdrawn key is gone, although the token's exp is hours away.
    now[0] += 1
    with pytest.raises(AuthProblem) as refused:
        await authenticator.token_principal(token)
    assert refused.value.reason == "Handtekening ongeldig"
    # A token of a key still published goes on working.
    assert (await authenticator.token_principal(mint("reports:read"))).subject == "test-client"


def _with_kid(key: Ed25519PrivateKey, kid: str) -> str:
    """A token of the tests' issuer signed by `key`, naming it `kid` in its header."""
    claims = jwt.decode(mint("reports:read"), options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def test_a_rotated_key_verifies_at_once_and_made_up_key_ids_do_not_hammer_the_issuer(
    organisations: OrganisationsConfig, jwks_url: str, published: list[dict[str, Any]], fetches: list[str]
) -> None:
    now = [time.time()]
    verifier = TokenVerifier(TEST_ISSUER, TEST_AUDIENCE, ["EdDSA"], jwks_url=jwks_url, clock=lambda: now[0])
    authenticator = Authenticator(organisations, verifier)
    assert (await authenticator.token_principal(_with_kid(SIGNING_KEY, "tests"))).subject == "test-client"
    assert len(fetches) == 1
    # The issuer rotates its key: the first token of the new one has the key set fetched again,
    # long before the cached set's refresh.
    rotated = Ed25519PrivateKey.generate()
    published.append(_jwk(rotated, "rotated"))
    assert (await authenticator.token_principal(_with_kid(rotated, "rotated"))).subject == "test-client"
    assert len(fetches) == 2
    # Key ids nobody published, many and side by side, are refused from the set just fetched ...
    bogus = [_with_kid(Ed25519PrivateKey.generate(), f"bogus-{n}") for n in range(40)]
    results = await asyncio.gather(*(authenticator.token_principal(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(r, AuthProblem) and r.reason == "Handtekening ongeldig" for r in results)
    assert len(fetches) == 2
    # ... and later ask the issuer once per interval, however many there are.
    now[0] += JWKS_REFETCH_SECONDS
    results = await asyncio.gather(*(authenticator.token_principal(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(r, AuthProblem) for r in results)
    assert len(fetches) == 3
    # A key published within the interval verifies once it has passed; known keys never wait.
    later = Ed25519PrivateKey.generate()
    published.append(_jwk(later, "later"))
    with pytest.raises(AuthProblem):
        await authenticator.token_principal(_with_kid(later, "later"))
    assert (await authenticator.token_principal(_with_kid(rotated, "rotated"))).subject == "test-client"
    assert len(fetches) == 3
    now[0] += JWKS_REFETCH_SECONDS
    assert (await authenticator.token_principal(_with_kid(later, "later"))).subject == "test-client"
    assert len(fetches) == 4


def test_an_unusable_signing_key_file_is_refused_in_dutch(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert key.public_key() == load_or_create_signing_key(tmp_path).public_key()
    path.chmod(0o644)
    with pytest.raises(ValueError, match=r"is leesbaar voor anderen \(modus 644\); chmod 600"):
        load_or_create_signing_key(tmp_path)
    path.chmod(0o600)
    path.write_bytes(b"geen sleutel")
    with pytest.raises(ValueError, match="bevat geen bruikbare ondertekeningssleutel; verwijder het bestand"):
        load_or_create_signing_key(tmp_path)
    other = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="bevat geen Ed25519-ondertekeningssleutel"):
        load_or_create_signing_key(tmp_path)
