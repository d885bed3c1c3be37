"""The app's lifespan consumes facts from the broker into the read models and reports /status;
a record outside the facts contract is dead-lettered with its reason and position, and replayed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import bearer
from running import app_client

from reporting.integration.consuming import consuming, publish, records_of
from reporting.samples import sample_facts
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics
from stroom_platform.kafka.clients import Broker
from stroom_reporting.app import create_app
from stroom_reporting.commands import migrate, read_dead_letters, replay


async def test_consumes_facts_topic(broker: EmbeddedBroker, unique_topic: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    await migrate(url)
    dead_letters = f"{unique_topic}.dead-letter"
    await ensure_topics(broker.bootstrap_servers, [TopicSpec(unique_topic, 2), TopicSpec(dead_letters, 1)])
    poison = (b"{not a fact", b"x")
    twice = records_of([*sample_facts(), *sample_facts()])
    await publish(broker.bootstrap_servers, unique_topic, [*twice, poison])
    settings = consuming(url, broker.bootstrap_servers, unique_topic, facts_dead_letter_topic=dead_letters)
    app = create_app(settings)
    reader = bearer("ops:read", "reports:read", subject="reporting-reader")
    async with app_client(app, "http://test", reader) as client:
        status: dict = {}
        for _ in range(200):
            status = (await client.get("/status")).json()
            if status["read_models"].get("client", {}).get("facts_applied") == 3:
                break
            await asyncio.sleep(0.1)
        assert set(status["read_models"]) == {
            "benefit",
            "placement",
            "application",
            "trajectory",
            "client",
        }
        assert status["read_models"]["benefit"]["facts_applied"] == 5
        doc = (
            await client.get(
                "/v1/reports/monthly",
                params={
                    "municipality": "GM0405",
                    "from": "2024-03",
                    "to": "2024-03",
                    "unit": "benefits",
                    "regulation": "PW",
                },
            )
        ).json()
        assert doc["tables"]["rows"]["rows"][0]["end"] == 3
        metrics = (await client.get("/metrics")).text
        assert 'stroom_reporting_facts_total{outcome="dead-lettered"} 1.0' in metrics
        letters = await read_dead_letters(Broker(broker.bootstrap_servers), dead_letters)
        assert [(letter.key, letter.value) for letter in letters] == [(b"x", b"{not a fact")]
        assert letters[0].reason.startswith("contract: ")
        assert letters[0].reason == "contract: 1 fout, eerste: feit: is geen geldige JSON"
        assert letters[0].position.startswith(f"{unique_topic}/")
        # Offered again: refused again, with its reason, and the rest of the facts unharmed.
        assert await replay(Broker(broker.bootstrap_servers), unique_topic, letters) == 1
        for _ in range(100):
            if len(await read_dead_letters(Broker(broker.bootstrap_servers), dead_letters)) == 2:
                break
            await asyncio.sleep(0.1)
        again = await read_dead_letters(Broker(broker.bootstrap_servers), dead_letters)
        assert [letter.value for letter in again] == [b"{not a fact", b"{not a fact"]
        assert [letter.header("dlq_reason") for letter in again].count(letters[0].reason) == 2
        for _ in range(50):
            status = (await client.get("/status")).json()
            if sum(p["lag"] or 0 for p in status["consumer"]["partitions"].values()) == 0:
                break
            await asyncio.sleep(0.1)
        assert status["consumer"]["partitions"]
        assert status["database"] == {"reachable": True}
        assert all(p["lag"] == 0 for p in status["consumer"]["partitions"].values())
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == ["assignment", "broker", "database"]
        freshness = float(metrics.split("\nstroom_reporting_freshness_seconds ")[1].split()[0])
        assert 0 < freshness < 600
        assert status["read_models"]["benefit"]["newest_recorded"] is not None
