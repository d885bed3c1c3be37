"""The audit log through the services' APIs: detail reads, refusals and audit reads are recorded."""

from __future__ import annotations

import httpx
from conftest import bearer
from reporting.integration.conftest import HOORN, WHOLE_ORGANISATION, loaded_database, reporting_app

# Traces and reads the audit log.
AUDITOR = bearer("reports:read:detail", "admin", subject="auditor")

TRACE = {
    "municipality": "GM0405",
    "regulation": "PW",
    "unit": "persons",
    "month": "2024-03",
    "measure": "end",
}


async def test_reporting_records_detail_reads_and_audit_reads(reporting_database: str) -> None:
    app = reporting_app(await loaded_database(reporting_database))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUDITOR) as client:
            traced = (await client.get("/v1/reports/monthly/trace", params=TRACE)).json()
            assert traced["count"] > 0
            first = await client.get("/v1/audit")
            second = await client.get("/v1/audit", params={"after": 0, "limit": 1})
    finally:
        await app.state.runtime.engine.dispose()
    assert first.status_code == 200
    doc = first.json()
    assert doc["verification"] == {"valid": True, "checked": 1, "first_broken_seq": None, "reason": None}
    [entry] = doc["entries"]
    assert entry["action"] == "detail-inzage"
    assert entry["object"] == "monthly/trace GM0405 PW persons 2024-03 end"
    assert entry["detail"] == {"refs": [r["client_ref"] for r in traced["refs"]]}
    assert entry["origin"]["service"] == "reporting"
    assert entry["origin"]["client_address"] == "127.0.0.1"
    assert entry["result"] == "getoond"
    assert entry["timestamp"].endswith("+00:00")
    # The first audit read is an entry of its own, seen by the second.
    page = second.json()
    assert [e["seq"] for e in page["entries"]] == [1]
    assert page["next_after"] == 1
    assert page["verification"]["checked"] == 2


async def test_refusals_are_recorded(reporting_database: str) -> None:
    app = reporting_app(await loaded_database(reporting_database))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            missing = await client.get("/v1/reports/monthly/trace", params=TRACE)
            wrong = await client.get(
                "/v1/reports/monthly/trace",
                params={**TRACE, "municipality": "GM0420"},
                headers=HOORN,
            )
            audit_read = await client.get("/v1/audit", headers=WHOLE_ORGANISATION)
        entries = [e.document() for e in await app.state.audit.page(0, 10)]
        verification = await app.state.audit.verify()
    finally:
        await app.state.runtime.engine.dispose()
    assert (missing.status_code, wrong.status_code, audit_read.status_code) == (401, 403, 403)
    assert [(e["action"], e["object"], e["detail"]["status"]) for e in entries] == [
        ("authenticatie", "GET /v1/reports/monthly/trace", 401),
        ("autorisatie", "GET /v1/reports/monthly/trace", 403),
        ("autorisatie", "GET /v1/audit", 403),
    ]
    assert verification.valid
