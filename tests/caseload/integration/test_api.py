"""The case managers' API: Dutch labels, per-municipality authorisation, RFC 9457 errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
from conftest import bearer
from fastapi import Depends, FastAPI

from caseload.history import simulate
from caseload.integration.expectations import expected
from stroom_caseload.api import caseload_router
from stroom_caseload.commands import migrate
from stroom_caseload.service import apply_events
from stroom_caseload.tables import audit as audit_table
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_platform.audit import AuditLog
from stroom_platform.auth import authenticated
from stroom_platform.db import make_engine
from stroom_platform.issuer import build_authenticator
from stroom_platform.organisations import OrganisationsConfig
from stroom_platform.problems import install_problem_handlers
from stroom_platform.settings import CommonSettings


async def test_summary_and_coach_views_are_labelled_and_authorised(
    tmp_path: Path, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
    await migrate(url)
    raw = simulate(["GM0405", "GM0420"], date(2022, 1, 1), months=12, seed=4, noise=False)
    validator = EventValidator(pseudonymiser, organisations.municipality_codes)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await apply_events(conn, [validator.validate(e) for e in raw])
    app = FastAPI(dependencies=[Depends(authenticated)])
    app.state.authenticator = build_authenticator(CommonSettings(), organisations)
    install_problem_handlers(app)
    audit = AuditLog(engine, audit_table, "caseload")
    app.include_router(caseload_router(engine, organisations, audit))
    on = "2022-09-30"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            hoorn = bearer("caseload:read", municipalities=["GM0405"])
            answer = await client.get(
                "/v1/caseload/municipalities/GM0405", params={"date": on}, headers=hoorn
            )
            assert answer.status_code == 200
            body = answer.json()
            want = expected(raw, "GM0405", date.fromisoformat(on))
            assert {r["code"]: r["count"] for r in body["benefits"]["by_regulation"]} == want["benefits"]
            labels = {r["code"]: r["label"] for r in body["benefits"]["by_regulation"]}
            assert labels.get("PW") == "Participatiewet (algemene bijstand)"
            assert body["coaches"]["label"] == "Klanten per klantmanager"

            denied = await client.get(
                "/v1/caseload/municipalities/GM0420", params={"date": on}, headers=hoorn
            )
            assert denied.status_code == 403
            assert denied.headers["content-type"].startswith("application/problem+json")
            assert denied.json()["type"].endswith("/forbidden-municipality")
            assert (await client.get("/v1/caseload/municipalities/GM0405")).status_code == 401

            coach = next(c for c in body["coaches"]["items"] if c["coach_ref"])
            view = await client.get(
                f"/v1/caseload/coaches/{coach['coach_ref']}",
                params={"date": on},
                headers=bearer("caseload:read", organisation="werksaam-westfriesland"),
            )
            assert view.status_code == 200
            assert view.json()["active_clients"] == coach["clients"]
            assert view.json()["by_municipality"][0]["name"] == "Hoorn"
            bad = await client.get("/v1/caseload/coaches/x", params={"date": "2022-13-01"}, headers=hoorn)
            assert bad.status_code == 400
        read = [(e.record.object, e.record.detail) for e in await audit.page(0, 10)]
        assert read == [
            (
                "caseload GM0405",
                {"refs": [c["coach_ref"] for c in body["coaches"]["items"] if c["coach_ref"]]},
            ),
            (f"caseload klantmanager {coach['coach_ref']}", {"refs": [coach["coach_ref"]]}),
        ]
        assert (await audit.verify()).valid
    finally:
        await engine.dispose()
