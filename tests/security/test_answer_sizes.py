"""Long lists in answers come in pages (NL API Design Rules: `page`, `pageSize`, `_links`,
`X-Total-Count`) with a maximum page size: traces, restated months and the coaches of a
municipality's caseload. Without `page` a caller gets what it got before, up to the maximum."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import bearer
from fastapi import FastAPI

from security.conftest import client_of

ORG = "werksaam-westfriesland"
READER = bearer("reports:read", "reports:read:detail", "caseload:read", organisation=ORG, subject="pages")
TRACE = {
    "municipality": "GM0405",
    "regulation": "PW",
    "unit": "benefits",
    "month": "2024-03",
    "measure": "end",
}


async def walk(client: httpx.AsyncClient, path: str, params: dict[str, Any], key: str) -> list[Any]:
    """Every item, following `next` from the first page."""
    answer = await client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    items = list(answer.json()[key])
    while (following := answer.json()["_links"].get("next")) is not None:
        answer = await client.get(following["href"])
        assert answer.status_code == 200, answer.text
        items += answer.json()[key]
    return items


async def test_a_trace_comes_in_pages_that_add_up_to_the_figure(reporting: FastAPI) -> None:
    async with client_of(reporting, READER) as client:
        whole = await client.get("/v1/reports/monthly/trace", params=TRACE)
        assert whole.status_code == 200, whole.text
        body = whole.json()
        assert body["count"] == len(body["refs"]) >= 3
        assert whole.headers["x-total-count"] == str(body["count"])
        assert whole.headers["x-pagination-limit"] == "5000"
        assert body["_links"]["next"] is None

        first = await client.get("/v1/reports/monthly/trace", params=TRACE | {"pageSize": 2})
        assert first.json()["count"] == body["count"]
        assert len(first.json()["refs"]) == 2
        assert first.headers["x-pagination-page"] == "1"
        assert first.json()["_links"]["prev"] is None
        paged = await walk(client, "/v1/reports/monthly/trace", TRACE | {"pageSize": 2}, "refs")
        assert paged == body["refs"]

        for params, slug in [
            ({"pageSize": 5001}, "invalid-request"),
            ({"pageSize": 0}, "invalid-request"),
            ({"page": 0}, "invalid-request"),
            ({"page": 99, "pageSize": 2}, "page-out-of-range"),
        ]:
            refused = await client.get("/v1/reports/monthly/trace", params=TRACE | params)
            assert refused.status_code == 400, (params, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/" + slug)


async def test_restated_months_come_in_pages(reporting: FastAPI) -> None:
    async with client_of(reporting, READER) as client:
        params = {"organisation": ORG, "since": "2000-01-01T00:00:00Z"}
        whole = (await client.get("/v1/reports/monthly/changes", params=params)).json()
        assert len(whole["changes"]) >= 2
        assert (
            await walk(client, "/v1/reports/monthly/changes", params | {"pageSize": 1}, "changes")
            == (whole["changes"])
        )
        too_many = await client.get("/v1/reports/monthly/changes", params=params | {"pageSize": 2001})
        assert too_many.status_code == 400


async def test_a_caseload_lists_its_coaches_in_pages(apps: dict[str, FastAPI]) -> None:
    async with client_of(apps["caseload"], READER) as client:
        answer = await client.get("/v1/caseload/municipalities/GM0405", params={"pageSize": 10})
        assert answer.status_code == 200, answer.text
        assert answer.json()["coaches"]["_links"]["self"]["href"].endswith("page=1&pageSize=10")
        assert answer.headers["x-total-count"] == str(len(answer.json()["coaches"]["items"]))
        too_many = await client.get("/v1/caseload/municipalities/GM0405", params={"pageSize": 1001})
        assert too_many.status_code == 400
