"""Tokens an attacker might present, to each service: every one refused with 401, a problem
document saying why and a `WWW-Authenticate: Bearer` challenge; never a token in the URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from conftest import PUBLIC_KEYS_FILE, TEST_AUDIENCE, TEST_ISSUER, bearer, mint
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from security.conftest import client_of

# One endpoint of each service, and the scope it needs.
TARGETS = {
    "intake": ("GET", "/status", "ops:read"),
    "caseload": ("GET", "/v1/caseload/municipalities/GM0405", "caseload:read"),
    "reporting": ("GET", "/v1/reports/monthly?organisation=werksaam-westfriesland", "reports:read"),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(scope: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "sub": "mallory",
        "iat": now,
        "exp": now + 600,
        "scope": scope,
    }


def unsigned(scope: str) -> str:
    """alg=none: a token anyone can write."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(scope)).encode())}."


def hmac_with_public_key(scope: str) -> str:
    """HS256 keyed with the issuer's public key, which is public: the classic confusion."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(scope)).encode())
    signature = hmac.new(PUBLIC_KEYS_FILE.read_bytes(), f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{_b64(signature.digest())}"


def forged(scope: str) -> dict[str, str]:
    """Each kind of bad token, by what the problem must say."""
    now = time.time()
    return {
        "Token verlopen": mint(scope, now=now - 7200, ttl_seconds=3600),
        "Token nog niet geldig": mint(scope, now=now + 3600),
        "Handtekening ongeldig": mint(scope, key=Ed25519PrivateKey.generate()),
        "Onbekende uitgever": mint(scope, issuer="https://evil.example"),
        "Token niet voor deze dienst": mint(scope, audience="some-other-api"),
        "Algoritme niet toegestaan": unsigned(scope),
        "Algoritme niet toegestaan (HS256)": hmac_with_public_key(scope),
        "Token onleesbaar": "not-a-jwt",
    }


@pytest.mark.parametrize("service", sorted(TARGETS))
async def test_bad_tokens_are_refused_with_401_and_a_reason(apps: dict[str, FastAPI], service: str) -> None:
    method, url, scope = TARGETS[service]
    async with client_of(apps[service]) as client:
        for reason, token in forged(scope).items():
            answer = await client.request(method, url, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, (service, reason, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="stroom", error="invalid_token"'), challenge
            assert challenge.isascii(), challenge  # RFC 6750: error_description is ASCII
            assert f'error_description="{reason.split(" (")[0]}"' in challenge, (reason, challenge)
            assert answer.json()["title"], reason
        missing = await client.request(method, url)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="stroom"'
        basic = await client.request(method, url, headers={"Authorization": "Basic bWFsbG9yeTp4"})
        assert basic.status_code == 401
        # The same request with a good token passes authentication: the refusals were the tokens'.
        good = await client.request(method, url, headers=bearer(scope))
        assert good.status_code not in (401, 403), (service, good.text)


@pytest.mark.parametrize("parameter", ["token", "access_token", "api_key"])
async def test_a_credential_in_the_url_is_refused_even_when_valid(
    apps: dict[str, FastAPI], parameter: str
) -> None:
    token = mint("reports:read")
    async with client_of(apps["reporting"]) as client:
        answer = await client.get(
            "/v1/reports/monthly", params={"organisation": "werksaam-westfriesland", parameter: token}
        )
        assert answer.status_code == 400
        assert answer.json()["type"].endswith("/credentials-in-url")
        assert "Authorization: Bearer" in answer.json()["detail"]
        assert token not in answer.text
        # Also beside a good header: the URL has already leaked it into logs.
        both = await client.get(
            "/v1/reports/monthly",
            params={"organisation": "werksaam-westfriesland", parameter: token},
            headers=bearer("reports:read"),
        )
        assert both.status_code == 400


async def test_a_token_naming_what_is_not_configured_is_refused(apps: dict[str, FastAPI]) -> None:
    async with client_of(apps["reporting"]) as client:
        refusals: list[tuple[dict[str, Any], str]] = [
            ({"organisation": "nowhere"}, "onbekende organisatie 'nowhere'"),
            ({"municipalities": ["GM9999"]}, "onbekende gemeente GM9999"),
            ({"municipalities": ["GM9998", "GM9999"]}, "onbekende gemeenten GM9998, GM9999"),
            ({"organisation": "bar", "municipalities": ["GM0405"]}, "gemeente GM0405 hoort niet bij bar"),
        ]
        for claims, reason in refusals:
            answer = await client.get("/v1/organisations", headers=bearer("reports:read", **claims))
            assert answer.status_code == 401, claims
            assert answer.json()["detail"] == (
                f"Het token is geldig ondertekend maar klopt niet met de configuratie: {reason}."
            )
            assert 'error_description="Token met onbekende gegevens"' in answer.headers["www-authenticate"]
