"""What a credential may do with its scopes: a case system writes only as its own sources and for
its own organisation's municipalities (nothing else of a batch is stored, nobody can take another
system's ids first); a reader cannot write; a municipality's reader sees nothing of another
municipality, in no report, format, trace or total."""

from __future__ import annotations

import io
from typing import Any

import orjson
from conftest import bearer
from fastapi import FastAPI
from intake.samples import changed, one_of_each
from openpyxl import load_workbook
from reporting.integration.conftest import EVERYTHING
from sqlalchemy import select

from security.conftest import client_of
from stroom_intake.tables import events

BATCH = {"content-type": "application/cloudevents-batch+json"}
GWS = bearer("events:write", organisation="werksaam-westfriesland", sources=["gws/hoorn"], subject="gws")
CIVISION = bearer(
    "events:write", organisation="ijmond-werkt", sources=["civision/ijmond-werkt"], subject="civision"
)
ORG = "werksaam-westfriesland"


async def stored(app: FastAPI) -> set[tuple[str, str]]:
    async with app.state.runtime.engine.connect() as conn:
        return {
            (r.source, r.event_id) for r in await conn.execute(select(events.c.source, events.c.event_id))
        }


async def test_a_case_system_writes_only_as_its_sources_for_its_organisation(app: FastAPI) -> None:
    own = one_of_each("own")
    started = own[2]
    attacks = [
        # Another system's source: a forged retraction, an event under its name, its next id.
        own[-1] | {"id": "forged-retraction", "source": "civision/ijmond-werkt"},
        started | {"id": "as-civision", "source": "civision/ijmond-werkt"},
        own[5] | {"id": "civision-next-id", "source": "civision/ijmond-werkt"},
        # Its own source, another organisation's municipality.
        changed(started, municipality="GM0375", benefit_ref="B-IJMOND") | {"id": "in-beverwijk"},
    ]
    batch = [*own, *attacks]
    async with client_of(app) as client:
        answer = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH | GWS)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == len(own)
        refused = {(e["index"], e["id"], e["field"]) for e in body["refused"]}
        assert refused == {
            (len(own), "forged-retraction", "source"),
            (len(own) + 1, "as-civision", "source"),
            (len(own) + 2, "civision-next-id", "source"),
            (len(own) + 3, "in-beverwijk", "data.municipality"),
        }
        assert await stored(app) == {("gws/hoorn", e["id"]) for e in own}

        # The id the attacker tried to take first is still the real system's.
        real = own[5] | {"id": "civision-next-id", "source": "civision/ijmond-werkt"}
        answer = await client.post("/v1/events", content=orjson.dumps([real]), headers=BATCH | CIVISION)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 1


async def test_only_a_bound_writer_writes(app: FastAPI) -> None:
    body = orjson.dumps(one_of_each("r"))
    async with client_of(app) as client:
        for headers in (
            bearer("reports:read", "reports:read:detail", organisation=ORG),
            bearer("ops:read", "admin"),
            bearer("reports:read:public"),
        ):
            answer = await client.post("/v1/events", content=body, headers=BATCH | headers)
            assert answer.status_code == 403, answer.text
            assert answer.json()["type"].endswith("/insufficient-scope")
        unbound = await client.post("/v1/events", content=body, headers=BATCH | bearer("events:write"))
        assert unbound.status_code == 403
        assert unbound.json()["type"].endswith("/writer-unbound")
        assert await stored(app) == set()


HOORN = bearer("reports:read", "reports:read:detail", municipalities=["GM0405"], subject="hoorn")
OTHERS = ("GM0498", "GM0388", "GM1598", "GM0420", "GM0432", "GM0532")
FAMILIES = {
    "/v1/reports/monthly": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/board": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/reasons": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/composition": {"stockDate": "2024-06-30"},
    "/v1/reports/placements": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/trajectories": {"quarter": "2024-04"},
    "/v1/reports/caseload": {"stockDate": "2024-06-30"},
    "/v1/reports/gate": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/kpis": {"from": "2024-01", "to": "2024-06"},
    "/v1/reports/kpis/trace": {"from": "2024-01", "to": "2024-06", "kpi": "K4"},
    "/v1/reports/monthly/changes": {"since": "2000-01-01T00:00:00Z"},
}


def _rows(doc: dict[str, Any], table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = doc["tables"][table]["rows"]
    return rows


async def test_a_municipality_sees_nothing_of_another(reporting: FastAPI) -> None:
    async with client_of(reporting, HOORN) as client:
        for path, params in FAMILIES.items():
            for other in OTHERS[:2]:
                asked = await client.get(path, params=params | {"municipality": other})
                assert asked.status_code == 403, (path, other, asked.text)
            for fmt in ("json", "csv", "xlsx"):
                if path.endswith(("/trace", "/changes")) and fmt != "json":
                    continue
                answer = await client.get(path, params=params | {"organisation": ORG, "format": fmt})
                assert answer.status_code == 200, (path, fmt, answer.text)
                if fmt == "xlsx":
                    book = load_workbook(io.BytesIO(answer.content))
                    text = " ".join(
                        str(c.value) for s in book.worksheets for row in s.iter_rows() for c in row if c.value
                    )
                else:
                    text = answer.text
                leaked = [code for code in OTHERS if code in text]
                assert not leaked, (path, fmt, leaked)
        trace = {"municipality": "GM0420", "regulation": "PW", "unit": "persons", "month": "2024-03"}
        assert (
            await client.get("/v1/reports/monthly/trace", params=trace | {"measure": "end"})
        ).status_code == 403
        organisations = (await client.get("/v1/organisations")).json()
        assert [m["code"] for o in organisations for m in o["municipalities"]] == ["GM0405"]


async def test_totals_are_over_the_visible_municipalities_only(reporting: FastAPI) -> None:
    """Hoorn's organisation totals are Hoorn's own figures, so no other municipality's can be
    had by subtracting them from anything."""
    period = {"from": "2024-01", "to": "2024-06"}
    async with client_of(reporting, HOORN) as hoorn:
        mine = (await hoorn.get("/v1/reports/monthly", params=period | {"organisation": ORG})).json()
    async with client_of(reporting, EVERYTHING) as analyst:
        whole = (await analyst.get("/v1/reports/monthly", params=period | {"organisation": ORG})).json()
        only_hoorn = (
            await analyst.get("/v1/reports/monthly", params=period | {"municipality": "GM0405"})
        ).json()
    for table in ("organisation_totals", "organisation_period_totals", "regulation_totals"):
        assert _rows(mine, table) == _rows(only_hoorn, table), table
    assert _rows(mine, "organisation_totals") != _rows(whole, "organisation_totals"), (
        "a sample proving nothing"
    )


async def test_a_public_reader_gets_only_the_published_figures(reporting: FastAPI) -> None:
    async with client_of(reporting, bearer("reports:read:public", subject="publiek")) as client:
        for path, params in FAMILIES.items():
            if path == "/v1/reports/monthly":
                continue
            answer = await client.get(path, params=params | {"organisation": ORG})
            assert answer.status_code == 403, (path, answer.text)


async def test_a_reader_may_not_trace_without_the_detail_scope(reporting: FastAPI) -> None:
    reader = bearer("reports:read", organisation=ORG)
    trace = {
        "municipality": "GM0405",
        "regulation": "PW",
        "unit": "persons",
        "month": "2024-03",
        "measure": "end",
    }
    async with client_of(reporting, reader) as client:
        assert (await client.get("/v1/reports/monthly/trace", params=trace)).status_code == 403
        kpi = {"organisation": ORG, "from": "2024-01", "to": "2024-06", "kpi": "K4"}
        assert (await client.get("/v1/reports/kpis/trace", params=kpi)).status_code == 403
        assert (await client.get("/v1/reports/monthly", params={"organisation": ORG})).status_code == 200


HOORN_CASELOAD = bearer("caseload:read", municipalities=["GM0405"], subject="hoorn-teamleider")


async def test_caseload_views_keep_to_the_readers_municipalities(apps: dict[str, FastAPI]) -> None:
    async with client_of(apps["caseload"], HOORN_CASELOAD) as client:
        denied = await client.get("/v1/caseload/municipalities/GM0420")
        assert denied.status_code == 403
        assert denied.json()["type"].endswith("/forbidden-municipality")
        coach = (await client.get("/v1/caseload/coaches/K-7")).json()
        assert not [m for m in coach["by_municipality"] if m["code"] != "GM0405"]


async def test_caseload_views_and_reports_need_their_own_scopes(apps: dict[str, FastAPI]) -> None:
    async with client_of(apps["caseload"]) as client:
        for path in ("/v1/caseload/municipalities/GM0405", "/v1/caseload/coaches/K-7"):
            refused = await client.get(path, headers=HOORN)
            assert refused.status_code == 403
            assert refused.json()["type"].endswith("/insufficient-scope")
            assert "caseload:read" in refused.headers["www-authenticate"]
    async with client_of(apps["reporting"], HOORN_CASELOAD) as client:
        refused = await client.get("/v1/reports/monthly", params={"organisation": ORG})
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/insufficient-scope")
