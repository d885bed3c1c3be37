"""Hostile query parameters get a 400 problem, never a 500; every answer carries the security
headers; a credential that asks too often gets 429 with Retry-After."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import bearer, mint
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from reporting.integration.conftest import loaded_database

from stroom_caseload.app import create_app as caseload_app
from stroom_caseload.commands import migrate as caseload_migrate
from stroom_caseload.settings import CaseloadSettings
from stroom_platform.auth import AuthProblem, VerifiedTokens, grant
from stroom_platform.hardening import CSP, DOCS_CSP, HSTS, TokenBuckets
from stroom_platform.issuer import build_authenticator
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.settings import CommonSettings
from stroom_reporting.app import create_app as reporting_app
from stroom_reporting.commands import migrate as reporting_migrate
from stroom_reporting.settings import ReportingSettings

ORG = {"organisation": "werksaam-westfriesland"}
YEAR_ONE = "0001-01-01T00:00:00+01:00"
BSN = "712350780"


@pytest.fixture(scope="module")
def reporting_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reporting') / 'reporting.db'}"


# A reader of every municipality, also of traces: what is refused here is the parameters.
READER = bearer("reports:read", "reports:read:detail", "caseload:read", subject="hardening")


async def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", headers=READER)


_LOADED: set[str] = set()


@pytest.fixture
async def reporting(reporting_url: str) -> AsyncIterator[httpx.AsyncClient]:
    if reporting_url not in _LOADED:
        await reporting_migrate(reporting_url)
        await loaded_database(reporting_url)
        _LOADED.add(reporting_url)
    app = reporting_app(ReportingSettings(DATABASE_URL=reporting_url, consume=False))
    async with await client_of(app) as client:
        yield client
    await app.state.runtime.engine.dispose()


@pytest.fixture
async def caseload(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
    await caseload_migrate(url)
    async with await client_of(caseload_app(CaseloadSettings(database_url=url))) as client:
        yield client


REPORTING_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/reports/monthly", ORG | {"from": "0000-01", "to": "0000-12"}, "invalid-month"),
    ("/v1/reports/monthly", ORG | {"from": "9999-01", "to": "10000-01"}, "invalid-month"),
    ("/v1/reports/monthly", ORG | {"from": "2024-01", "to": "2024-13"}, "invalid-month"),
    ("/v1/reports/monthly", ORG | {"from": "2025-01", "to": "2024-01"}, "invalid-period"),
    ("/v1/reports/monthly", ORG | {"from": "1990-01", "to": "2024-12"}, "period-too-long"),
    ("/v1/reports/monthly", ORG | {"from": "2024-01", "asOf": YEAR_ONE}, "invalid-as-of"),
    ("/v1/reports/monthly", ORG | {"from": "2024-01", "asOf": "2024-01-01T00:00:00"}, "invalid-as-of"),
    ("/v1/reports/monthly", ORG | {"regulation": "WW"}, "invalid-regulation"),
    ("/v1/reports/monthly", ORG | {"unit": "cats"}, "invalid-unit"),
    ("/v1/reports/monthly", {"organisation": "nowhere"}, "unknown-organisation"),
    ("/v1/reports/monthly", {"municipality": "GM9999"}, "unknown-municipality"),
    ("/v1/reports/monthly", ORG | {"format": "csv", "table": "nope"}, "unknown-table"),
    ("/v1/reports/gate", ORG | {"from": "0000-01"}, "invalid-month"),
    ("/v1/reports/gate", ORG | {"period": "0000"}, "invalid-month"),
    ("/v1/reports/monthly", ORG | {"period": "0000-Q1"}, "invalid-month"),
    ("/v1/reports/gate", ORG | {"asOf": "0001-01-01T00:30:00+02:00"}, "invalid-as-of"),
    ("/v1/reports/kpis", ORG | {"to": "10000-01"}, "invalid-month"),
    ("/v1/reports/kpis", ORG | {"asOf": YEAR_ONE}, "invalid-as-of"),
    ("/v1/reports/placements", ORG | {"asOf": YEAR_ONE}, "invalid-as-of"),
    ("/v1/reports/reasons", ORG | {"from": "1000-01", "to": "1000-02"}, "invalid-month"),
    ("/v1/reports/trajectories", ORG | {"quarter": "0000-03"}, "invalid-month"),
    ("/v1/reports/trajectories", ORG | {"asOf": YEAR_ONE}, "invalid-as-of"),
    ("/v1/reports/composition", ORG | {"stockDate": "0001-01-01"}, "invalid-stock-date"),
    ("/v1/reports/composition", ORG | {"asOf": YEAR_ONE}, "invalid-as-of"),
    ("/v1/reports/caseload", ORG | {"stockDate": "0001-01-01"}, "invalid-stock-date"),
    ("/v1/reports/caseload", ORG | {"asOf": "9999-12-31T23:59:59-01:00"}, "invalid-as-of"),
    ("/v1/reports/monthly/changes", ORG | {"since": YEAR_ONE}, "invalid-since"),
    ("/v1/reports/monthly/changes", ORG | {"since": "9999-12-31T23:30:00-01:00"}, "invalid-since"),
    (
        "/v1/reports/monthly/trace",
        {"municipality": "GM0405", "regulation": "PW", "unit": "benefits", "month": "0000-01"}
        | {"measure": "end"},
        "invalid-month",
    ),
    (
        "/v1/reports/monthly/trace",
        {"municipality": "GM0405", "regulation": "PW", "unit": "benefits", "month": "2024-01"}
        | {"measure": "end", "asOf": YEAR_ONE},
        "invalid-as-of",
    ),
]


@pytest.mark.parametrize(("path", "params", "slug"), REPORTING_CASES, ids=lambda c: str(c)[:60])
async def test_bad_report_parameters_get_a_400_problem(
    reporting: httpx.AsyncClient, path: str, params: dict[str, Any], slug: str
) -> None:
    response = await reporting.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + slug)


async def test_ten_years_of_months_is_the_longest_period(reporting: httpx.AsyncClient) -> None:
    ten_years = await reporting.get("/v1/reports/monthly", params=ORG | {"from": "2015-01", "to": "2024-12"})
    assert ten_years.status_code == 200
    longer = await reporting.get("/v1/reports/monthly", params=ORG | {"from": "2014-12", "to": "2024-12"})
    assert longer.status_code == 400


@pytest.mark.parametrize(
    ("path", "params", "slug"),
    [
        ("/v1/caseload/municipalities/GM0405", {"date": "0001-01-01"}, "invalid-date"),
        ("/v1/caseload/municipalities/GM0405", {"asOf": YEAR_ONE}, "invalid-as-of"),
        ("/v1/caseload/municipalities/GM0405", {"asOf": "2024-01-01T00:00:00"}, "invalid-as-of"),
        ("/v1/caseload/coaches/km-1", {"asOf": "9999-12-31T23:59:59-01:00"}, "invalid-as-of"),
        ("/v1/caseload/coaches/km-1", {"date": "0001-01-01"}, "invalid-date"),
        (f"/v1/caseload/coaches/km-{BSN}", {}, "invalid-coach-ref"),
        ("/v1/caseload/coaches/" + "k" * 201, {}, "invalid-coach-ref"),
    ],
)
async def test_bad_caseload_parameters_get_a_400_problem(
    caseload: httpx.AsyncClient, path: str, params: dict[str, Any], slug: str
) -> None:
    response = await caseload.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/" + slug)
    assert BSN not in response.text


async def test_security_headers_on_answers_problems_and_the_dashboard(reporting: httpx.AsyncClient) -> None:
    answers = [
        await reporting.get("/v1/reports/monthly", params=ORG),
        await reporting.get("/v1/reports/monthly", params={"organisation": "nowhere"}),
        await reporting.get("/v1/nothing-here"),
        await reporting.get("/"),
        await reporting.get("/static/dashboard.js"),
        await reporting.get("/healthz"),
    ]
    assert [a.status_code for a in answers] == [200, 400, 404, 200, 200, 200]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP
        assert "'unsafe-inline'" not in CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in answer.headers
    docs = await reporting.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "script-src 'self';" in DOCS_CSP
    assert "frame-ancestors 'none'" in DOCS_CSP


async def test_the_dashboard_has_no_inline_script_or_style(reporting: httpx.AsyncClient) -> None:
    page = (await reporting.get("/")).text
    assert "<script>" not in page.replace(" ", "")
    assert "<style" not in page
    assert "style=" not in page
    assert '<script src="/static/' in page


async def test_hsts_behind_tls(reporting_url: str) -> None:
    settings = ReportingSettings(DATABASE_URL=reporting_url, consume=False, tls_terminated=True)
    async with await client_of(reporting_app(settings)) as client:
        assert (await client.get("/healthz")).headers["strict-transport-security"] == HSTS
    plain = reporting_app(ReportingSettings(DATABASE_URL=reporting_url, consume=False))
    transport = httpx.ASGITransport(app=plain)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        assert (await client.get("/healthz")).headers["strict-transport-security"] == HSTS


# One token per 20 s: four requests never take long enough, however loaded the machine, for the
# bucket to earn one back before the fourth.
async def test_rate_limit_per_credential(reporting_url: str) -> None:
    settings = ReportingSettings(
        DATABASE_URL=reporting_url, consume=False, rate_limit_per_second=0.05, rate_limit_burst=3
    )
    async with await client_of(reporting_app(settings)) as client:
        first = bearer("reports:read", subject="first")
        answers = [await client.get("/v1/organisations", headers=first) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        assert refused.json()["status"] == 429
        assert refused.headers["x-content-type-options"] == "nosniff"
        # Another credential has its own bucket; probes are never limited.
        other = await client.get("/v1/organisations", headers=bearer("reports:read", subject="second"))
        assert other.status_code == 200
        assert (await client.get("/healthz", headers=first)).status_code == 200


async def test_rate_limit_is_per_verified_subject_not_per_header(reporting_url: str) -> None:
    settings = ReportingSettings(
        DATABASE_URL=reporting_url, consume=False, rate_limit_per_second=0.05, rate_limit_burst=3
    )
    async with await client_of(reporting_app(settings)) as client:
        # A fresh token of the same subject is the same caller: it does not start a new bucket.
        same = [bearer("reports:read", subject="one") for _ in range(4)]
        answers = [await client.get("/v1/organisations", headers=headers) for headers in same]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        # Made-up tokens are no one: they share the bucket of their address, so inventing a new
        # one per request does not get round the limit.
        made_up = [{"Authorization": f"Bearer x.y.{n}"} for n in range(4)]
        answers = [await client.get("/v1/organisations", headers=headers) for headers in made_up]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        # A token signed by no trusted key is no one either.
        forged = bearer("reports:read", subject="two", key=Ed25519PrivateKey.generate())
        assert (await client.get("/v1/organisations", headers=forged)).status_code == 429
        assert (await client.get("/v1/organisations", headers=bearer("reports:read"))).status_code == 200


async def test_a_verified_token_is_checked_once_until_it_expires(organisations: OrganisationsConfig) -> None:
    authenticator = build_authenticator(CommonSettings(), organisations)
    token = mint("reports:read", subject="cached", ttl_seconds=600)
    first = await authenticator.token_principal(token)
    assert len(authenticator.verified) == 1
    assert await authenticator.token_principal(token) is first
    key = VerifiedTokens.key(token)
    assert authenticator.verified.get(key, time.time()) is first
    claims = jwt.decode(token, options={"verify_signature": False})
    assert authenticator.verified.get(key, claims["exp"] - 1) is first
    # At its expiry the cached answer is gone and the token is verified (and refused) again.
    assert authenticator.verified.get(key, claims["exp"]) is None
    assert len(authenticator.verified) == 0
    # A refused token is never cached.
    with pytest.raises(AuthProblem):
        await authenticator.token_principal(token[:-4] + "AAAA")
    assert len(authenticator.verified) == 0


def test_the_verified_token_cache_is_bounded(organisations: OrganisationsConfig) -> None:
    cache = VerifiedTokens(max_tokens=2)
    principal = grant(organisations, "p", ["reports:read"])
    for token in ("a", "b", "c"):
        cache.put(VerifiedTokens.key(token), principal, expires=100.0)
    assert len(cache) == 2
    assert cache.get(VerifiedTokens.key("a"), 0.0) is None
    assert cache.get(VerifiedTokens.key("c"), 0.0) is principal


def test_token_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=2)
    assert [buckets.take("a", 10.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert buckets.take("a", 10.25) == 0.25
    assert buckets.take("a", 10.5) == 0.0
    assert buckets.take("b", 10.5) == 0.0


def test_token_buckets_forget_the_least_recent_keys() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key, 0.0)
    # "a" was forgotten, so it starts with a full bucket again; "c" is still empty.
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("c", 0.0) == 1.0
