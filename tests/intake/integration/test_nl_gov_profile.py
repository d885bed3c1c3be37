"""NL GOV profile for CloudEvents at intake: a source's skipped `sequence` numbers on /status and
as a metric, whatever order the events arrive in; OIN-named sources; no personal data in the
context attributes."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI

from intake.integration.test_api import stored_ids
from intake.samples import BSNS, assessments, one_of_each
from stroom_intake.tables import metadata

BATCH = {"content-type": "application/cloudevents-batch+json"}
SINGLE = {"content-type": "application/cloudevents+json"}
OIN_SOURCE = "urn:nld:oin:00000001823288444000:systeem:gws-hoorn"


def numbered(numbers: list[str], source: str, prefix: str) -> list[dict[str, object]]:
    return [
        event | {"source": source, "sequence": number}
        for event, number in zip(assessments(len(numbers), prefix), numbers, strict=True)
    ]


async def sequences(client: httpx.AsyncClient) -> dict[str, dict[str, object]]:
    status = await client.get("/status")
    assert status.status_code == 200
    result: dict[str, dict[str, object]] = status.json()["sequences"]
    return result


async def post(client: httpx.AsyncClient, batch: list[dict[str, object]]) -> None:
    response = await client.post("/v1/events", content=orjson.dumps(batch), headers=BATCH)
    assert response.status_code == 202
    assert response.json()["refused"] == []


async def test_a_gap_in_a_sources_sequence_appears_on_status_until_it_is_filled(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Out of order, with a redelivery and leading zeros; 4, 5 and 9 never sent (yet).
    await post(client, numbered(["0003", "1", "7", "2", "6", "8", "10"], OIN_SOURCE, "a"))
    await post(client, numbered(["0003"], OIN_SOURCE, "a"))
    # Another source counts on its own; one without numbers is not listed.
    await post(client, numbered(["100", "101"], "gws/enkhuizen", "b"))
    await post(client, numbered(["x-1", "x-3"], "gws/opmeer", "c"))
    await post(client, assessments(2, "d"))

    seen = await sequences(client)
    assert seen == {
        OIN_SOURCE: {
            "lowest": 1,
            "highest": 10,
            "received": 7,
            "missing": 3,
            "gaps": [{"from": 4, "to": 5}, {"from": 9, "to": 9}],
        },
        "gws/enkhuizen": {"lowest": 100, "highest": 101, "received": 2, "missing": 0, "gaps": []},
    }
    metrics = (await client.get("/metrics")).text
    assert f'stroom_intake_sequence_missing{{source="{OIN_SOURCE}"}} 3.0' in metrics

    # The late events arrive: the gaps close.
    await post(client, numbered(["4", "5", "9"], OIN_SOURCE, "e"))
    seen = await sequences(client)
    assert seen[OIN_SOURCE]["missing"] == 0
    assert seen[OIN_SOURCE]["gaps"] == []
    assert (
        f'stroom_intake_sequence_missing{{source="{OIN_SOURCE}"}} 0.0' in (await client.get("/metrics")).text
    )


async def test_refused_events_leave_no_sequence_behind(app: FastAPI, client: httpx.AsyncClient) -> None:
    good, bad = numbered(["1", "2"], OIN_SOURCE, "f")
    bad["data"]["ladder_step"] = 9  # type: ignore[index]
    bad["sequence"] = "5"
    response = await client.post("/v1/events", content=orjson.dumps([good, bad]), headers=BATCH)
    assert response.status_code == 202
    assert [e["id"] for e in response.json()["refused"]] == [bad["id"]]
    assert (await sequences(client))[OIN_SOURCE]["highest"] == 1


async def test_a_bsn_in_subject_is_refused_and_stored_nowhere(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    bsn = BSNS[1]
    event = one_of_each("s", bsn=BSNS[0])[0] | {"subject": f"aanvraag van {bsn}", "source": OIN_SOURCE}
    response = await client.post("/v1/events", content=orjson.dumps(event), headers=SINGLE)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["id"], e["field"]) for e in response.json()["errors"]] == [(event["id"], "subject")]
    assert bsn not in response.text
    assert await stored_ids(app) == []
    async with app.state.runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = (await conn.execute(table.select())).all()
            assert bsn not in repr(rows), table.name
