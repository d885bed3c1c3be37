"""POST /v1/events over HTTP: idempotency, partial acceptance, the contract's bad input, limits."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from intake.conftest import consume, wait_published
from intake.samples import BAD_BSN, changed, event, one_of_each
from stroom_contract.types import MAX_REF_LENGTH
from stroom_intake.settings import IntakeSettings
from stroom_intake.tables import events

BATCH = {"content-type": "application/cloudevents-batch+json"}
SINGLE = {"content-type": "application/cloudevents+json"}


async def stored_ids(app: FastAPI) -> list[str]:
    async with app.state.runtime.engine.connect() as conn:
        return list((await conn.scalars(select(events.c.event_id).order_by(events.c.seq))).all())


async def test_the_same_batch_twice_is_stored_and_published_once(
    app: FastAPI, client: httpx.AsyncClient, settings: IntakeSettings
) -> None:
    batch = one_of_each()
    first = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)
    again = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)
    assert first.status_code == 202
    assert first.json() == {"accepted": len(batch), "duplicates": 0, "conflicts": [], "refused": []}
    assert again.json() == {"accepted": 0, "duplicates": len(batch), "conflicts": [], "refused": []}
    assert sorted(await stored_ids(app)) == sorted(e["id"] for e in batch)

    await wait_published(app)
    assert settings.kafka_bootstrap_servers is not None
    records = await consume(settings.kafka_bootstrap_servers, settings.events_topic, expect=len(batch))
    published = sorted(dict(r.headers)["ce_id"].decode() for r in records)
    assert published == sorted(e["id"] for e in batch)


def _bad_cases() -> list[tuple[dict[str, Any], str]]:
    """One event per case of the contract's "Bad input", with the field it must be refused for."""
    started, assessed = one_of_each("bad")[2], one_of_each("bad")[5]
    missing_time = dict(started)
    del missing_time["time"]
    return [
        (started | {"type": "stroom.benefit.exploded.v1"}, "type"),
        (missing_time, "time"),
        (
            changed(started, members=[{"bsn": BAD_BSN, "role": "applicant", "birth_date": "1980-01-01"}]),
            "data.members[0].bsn",
        ),
        (changed(started, municipality="GM9999"), "data.municipality"),
        (changed(started, inflow_reason="bored"), "data.inflow_reason"),
        (changed(started, start_date="2023-02-29"), "data.start_date"),
        (changed(assessed, ladder_step=7), "data.ladder_step"),
        (started | {"data": ["not", "an", "object"]}, "data"),
    ]


@pytest.mark.parametrize(("bad", "field"), _bad_cases())
async def test_a_single_bad_event_is_refused_naming_id_and_field(
    app: FastAPI, client: httpx.AsyncClient, bad: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/events", content=orjson.dumps(bad), headers=SINGLE)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/invalid-events")
    assert [(e["index"], e["id"], e["field"]) for e in problem["errors"]] == [(0, bad["id"], field)]
    assert await stored_ids(app) == []


@pytest.mark.parametrize("field", ["id", "source"])
async def test_a_ref_longer_than_the_contract_allows_is_refused_naming_its_limit(
    app: FastAPI, client: httpx.AsyncClient, field: str
) -> None:
    started = one_of_each("long")[2]
    bad = started | {field: started[field] + "x" * MAX_REF_LENGTH}
    response = await client.post("/v1/events", content=orjson.dumps(bad), headers=SINGLE)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["message"] == f"mag hoogstens {MAX_REF_LENGTH} tekens bevatten"
    assert await stored_ids(app) == []


async def test_an_id_as_long_as_the_contract_allows_is_stored_whole(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Characters, not bytes: two bytes each in UTF-8, still within the column on both engines.
    longest = "é" * MAX_REF_LENGTH
    accepted = one_of_each("long")[2] | {"id": longest}
    response = await client.post("/v1/events", content=orjson.dumps(accepted), headers=SINGLE)
    assert response.status_code == 202
    assert await stored_ids(app) == [longest]


async def test_a_batch_accepts_the_good_and_names_each_bad_one(
    app: FastAPI, client: httpx.AsyncClient, settings: IntakeSettings
) -> None:
    good = one_of_each("good")
    cases = _bad_cases()
    batch: list[dict[str, Any]] = []
    expected: list[tuple[int, str, str]] = []
    for n, (bad, field) in enumerate(cases):
        bad = bad | {"id": f"bad-{n}"}
        expected.append((len(batch) + 1, bad["id"], field))
        batch += [good[n], bad]
    batch += good[len(cases) :]

    response = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == len(good)
    assert [(e["index"], e["id"], e["field"]) for e in body["refused"]] == expected
    assert sorted(await stored_ids(app)) == sorted(e["id"] for e in good)
    await wait_published(app)
    assert settings.kafka_bootstrap_servers is not None
    records = await consume(settings.kafka_bootstrap_servers, settings.events_topic, expect=len(good))
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(e["id"] for e in good)


async def test_a_batch_of_only_bad_events_is_a_problem(app: FastAPI, client: httpx.AsyncClient) -> None:
    batch = [bad for bad, _ in _bad_cases()[:3]]
    response = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)
    assert response.status_code == 400
    assert [e["index"] for e in response.json()["errors"]] == [0, 1, 2]


async def test_ndjson_names_lines(app: FastAPI, client: httpx.AsyncClient) -> None:
    good = one_of_each()
    body = (
        b"\n".join(orjson.dumps(e) for e in good[:2])
        + b"\n\n"
        + orjson.dumps(changed(good[5], ladder_step=0))
    )
    response = await client.post("/v1/events", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    [refusal] = response.json()["refused"]
    assert (refusal["index"], refusal["line"], refusal["field"]) == (2, 4, "data.ladder_step")


async def test_malformed_ndjson_line_is_named_and_nothing_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = orjson.dumps(one_of_each()[0]) + b"\n{not json\n"
    response = await client.post("/v1/events", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2
    assert await stored_ids(app) == []


async def test_malformed_json_names_the_position(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events", content=b'[{"id": "x",\n  oops]', headers=BATCH)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("/malformed-json")
    assert (problem["line"], problem["column"]) == (2, 3)


async def test_a_batch_must_be_an_array(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events", content=orjson.dumps(one_of_each()[0]), headers=BATCH)
    assert response.status_code == 400
    assert (response.json()["title"], response.json()["detail"]) == (
        "Ongeldige JSON",
        "een batch is een JSON-array van events",
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_wrong_content_type(app: FastAPI, client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/v1/events", content=orjson.dumps(one_of_each()), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Inhoudstype niet ondersteund"


async def test_body_too_large_by_content_length_and_by_stream(
    app: FastAPI, client: httpx.AsyncClient, settings: IntakeSettings
) -> None:
    body = orjson.dumps([one_of_each(f"big{n}")[0] for n in range(settings.max_body_bytes // 200)])
    assert len(body) > settings.max_body_bytes
    declared = await client.post("/v1/events", content=body, headers=BATCH)

    async def chunks() -> Any:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = await client.post("/v1/events", content=chunks(), headers=BATCH)
    assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["limit"] == settings.max_body_bytes
        assert response.json()["detail"] == f"Stuur hoogstens {settings.max_body_bytes} bytes per verzoek."
    assert await stored_ids(app) == []


async def test_plain_json_object_or_array(app: FastAPI, client: httpx.AsyncClient) -> None:
    batch = one_of_each()
    headers = {"content-type": "application/json; charset=utf-8"}
    assert (
        await client.post("/v1/events", content=orjson.dumps(batch[0]), headers=headers)
    ).status_code == 202
    response = await client.post("/v1/events", content=orjson.dumps(batch), headers=headers)
    assert response.json()["accepted"] == len(batch) - 1


async def test_same_id_with_different_content_keeps_the_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = one_of_each()[5]
    other = changed(first, ladder_step=4)
    assert (await client.post("/v1/events", content=orjson.dumps(first), headers=SINGLE)).status_code == 202
    conflict = await client.post("/v1/events", content=orjson.dumps(other), headers=SINGLE)
    assert conflict.status_code == 409
    assert conflict.json()["conflicts"][0]["id"] == first["id"]
    # Within one batch too: the first occurrence wins, a repeat of it is a duplicate.
    fresh = event(first["type"], first["data"], "fresh-1")
    batch = [fresh, changed(fresh, ladder_step=2), fresh]
    body = (await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)).json()
    assert (body["accepted"], body["duplicates"], [c["index"] for c in body["conflicts"]]) == (1, 1, [1])
    async with app.state.runtime.engine.connect() as conn:
        wire = await conn.scalar(select(events.c.wire).where(events.c.event_id == first["id"]))
    assert orjson.loads(wire)["data"]["ladder_step"] == first["data"]["ladder_step"]


async def test_ops_endpoints(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", content=orjson.dumps(one_of_each()), headers=BATCH)
    await client.post("/v1/events", content=orjson.dumps(_bad_cases()[0][0]), headers=SINGLE)
    await wait_published(app)
    status = (await client.get("/status")).json()
    assert status["database"] == {"reachable": True}
    assert status["outbox"]["backlog"] == 0
    assert status["outbox"]["last_published_at"] is not None
    assert status["relay"]["running"] is True
    assert status["relay"]["broker_reachable"] is True
    assert status["events"] == {"stored": 15, "accepted": 15, "duplicate": 0, "refused": 1, "conflict": 0}
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'stroom_intake_events_total{outcome="accepted",type="stroom.plan.sent.v1"} 1.0' in metrics
    assert 'stroom_intake_events_total{outcome="refused",type="unknown"} 1.0' in metrics
    assert "stroom_intake_events_published_total 15.0" in metrics
