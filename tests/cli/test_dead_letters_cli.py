"""`stroom reporting dead-letters --replay`: the refused facts listed with reason and position,
then offered to the facts topic again as they first came, in their entity's partition."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from rich.console import Console
from typer.testing import CliRunner, Result

import stroom_cli.dead_letters
import stroom_reporting.commands
from stroom_caseload.commands import migrate as migrate_caseload
from stroom_cli.main import app
from stroom_cli.runtime import BROKER_ADDRESS_FILE, embedded_broker_if_needed
from stroom_platform.broker import EmbeddedBroker, TopicSpec, ensure_topics, free_port
from stroom_platform.kafka.clients import Broker
from stroom_platform.kafka.consuming import Record
from stroom_platform.kafka.dead_letters import dead_letter, read_dead_letters
from stroom_platform.partitioner import entity_partition_for
from stroom_platform.settings import CommonSettings
from stroom_reporting.commands import migrate

KEY = b"benefit:gws/werksaam-westfriesland:B-17"


async def _refuse(kafka: Broker, topic: TopicSpec, dead: str, record: Record, reason: str) -> None:
    """`record`, read from `topic`, dead-lettered to `dead` as a service would."""
    await ensure_topics(kafka.bootstrap_servers, [topic, TopicSpec(dead, 1)])
    producer = kafka.producer()
    await producer.start()
    try:
        await asyncio.gather(*await dead_letter(producer, dead, [(record, reason)]))
    finally:
        await producer.stop()


def _event_headers(event_id: bytes) -> list[tuple[str, bytes]]:
    """A caseload event's own headers: its source, id and type."""
    return [("ce_source", b"urn:bron"), ("ce_id", event_id), ("ce_type", b"stroom.benefit.started.v1")]


def _refuse_events(kafka: Broker, events: str, dead: str, refused: list[tuple[Record, str]]) -> None:
    """Each (record, reason), read from the one-partition `events`, dead-lettered to `dead` in turn."""
    for record, reason in refused:
        asyncio.run(_refuse(kafka, TopicSpec(events, 1), dead, record, reason))


def _replay_caseload(
    broker: EmbeddedBroker, events: str, dead: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Result:
    """`stroom caseload dead-letters --replay` on these topics."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}"
    asyncio.run(migrate_caseload(url))
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "STROOM_EVENTS_TOPIC": events,
        "STROOM_DEAD_LETTER_TOPIC": dead,
        "STROOM_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(stroom_cli.dead_letters, "console", Console(width=250))
    return CliRunner().invoke(app, ["caseload", "dead-letters", "--replay"])


async def _replayed_ids(kafka: Broker, events: str) -> list[bytes]:
    """The ce_id of every record now on partition 0 of the events topic."""
    consumer = kafka.consumer()
    await consumer.start()
    try:
        consumer.assign([TopicPartition(events, 0)])
        await consumer.seek_to_beginning(TopicPartition(events, 0))
        fetched = await consumer.getmany(TopicPartition(events, 0), timeout_ms=3000)
        return sorted(dict(r.headers)["ce_id"] for rs in fetched.values() for r in rs)
    finally:
        await consumer.stop()


def _one_refused_fact(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Broker, str, str]:
    """One fact, read from partition 1 of the two-partition facts topic, dead-lettered as reporting
    does, with the settings of `stroom reporting` for these topics; the broker, facts and
    dead-letter topic."""
    kafka = Broker(broker.bootstrap_servers)
    facts, dead = unique_topic, f"{unique_topic}.dead-letter"
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    asyncio.run(migrate(url))
    refused = Record(facts, 1, 7, KEY, b"{not a fact", [("origin", b"caseload")])
    asyncio.run(_refuse(kafka, TopicSpec(facts, 2), dead, refused, "contract: not JSON"))
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "DATABASE_URL": url,
        "STROOM_FACTS_TOPIC": facts,
        "STROOM_FACTS_DEAD_LETTER_TOPIC": dead,
        "STROOM_DATA_DIR": str(tmp_path / "var"),
    }.items():
        monkeypatch.setenv(name, value)
    return kafka, facts, dead


def test_reporting_dead_letters_are_listed_and_replayed(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka, facts, _ = _one_refused_fact(broker, unique_topic, tmp_path, monkeypatch)
    monkeypatch.setattr(stroom_cli.dead_letters, "console", Console(width=250))

    result = CliRunner().invoke(app, ["reporting", "dead-letters", "--replay"])

    assert result.exit_code == 0, result.output
    assert "contract: not JSON" in result.output
    assert f"{facts}/1/7" in result.output
    assert f"1 record opnieuw aangeboden op {facts}." in result.output

    async def replayed() -> list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        consumer = kafka.consumer()
        await consumer.start()
        try:
            tps = [TopicPartition(facts, 0), TopicPartition(facts, 1)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            fetched = await consumer.getmany(*tps, timeout_ms=3000)
            return [(r.partition, r.key, r.value, list(r.headers)) for rs in fetched.values() for r in rs]
        finally:
            await consumer.stop()

    partition = entity_partition_for(KEY, [0, 1], [0, 1])
    assert asyncio.run(replayed()) == [(partition, KEY, b"{not a fact", [("origin", b"caseload")])]


def test_dead_letters_not_read_to_the_end_are_neither_listed_nor_replayed(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, dead = _one_refused_fact(broker, unique_topic, tmp_path, monkeypatch)
    # No time at all to read the topic to its end.
    monkeypatch.setattr(
        stroom_reporting.commands, "read_dead_letters", partial(read_dead_letters, timeout_s=0)
    )

    result = CliRunner().invoke(app, ["reporting", "dead-letters", "--replay"])

    assert result.exit_code == 1, result.output
    assert result.output == (
        f"stroom: de dode letters op {dead} zijn niet binnen 0 s tot het eind gelezen (partitie 0 tot "
        "offset 0 van 1); er is niets getoond of opnieuw aangeboden, probeer het opnieuw.\n"
    )


def test_caseload_dead_letters_are_listed_with_the_events_source_id_and_type(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, dead = unique_topic, f"{unique_topic}.dead-letter"
    refused = Record(events, 0, 3, KEY, b"{}", _event_headers(b"ev-9"))
    _refuse_events(Broker(broker.bootstrap_servers), events, dead, [(refused, "conflict")])
    monkeypatch.setenv("STROOM_EVENTS_TOPIC", events)
    monkeypatch.setenv("STROOM_DEAD_LETTER_TOPIC", dead)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(stroom_cli.dead_letters, "console", Console(width=250))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("STROOM_KAFKA_BOOTSTRAP_SERVERS", raising=False)

    # No broker named and no demo running on this data directory: said so, in one line.
    without = CliRunner().invoke(app, ["caseload", "dead-letters"])
    assert without.exit_code == 2
    assert "geen broker om de dode letters van te lezen: zet KAFKA_BOOTSTRAP_SERVERS" in without.output

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    result = CliRunner().invoke(app, ["caseload", "dead-letters"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "ev-9" in line)
    for shown in ("urn:bron", "stroom.benefit.started.v1", "conflict", f"{events}/0/3"):
        assert shown in row
    assert "opnieuw aangeboden" not in result.output


def test_a_record_dead_lettered_again_after_a_crash_is_listed_and_replayed_once(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = Broker(broker.bootstrap_servers)
    events, dead = unique_topic, f"{unique_topic}.dead-letter"
    # The batch was applied and dead-lettered, the worker died before committing its offsets, and
    # the next worker applied the batch again: the same record, read at the same place, twice.
    redelivered = Record(events, 0, 11, KEY, b"{}", _event_headers(b"ev-5"))
    other = Record(events, 0, 12, KEY, b"{}", [("ce_id", b"ev-6")])
    reason = "unknown municipality"
    _refuse_events(kafka, events, dead, [(redelivered, reason), (other, reason), (redelivered, reason)])
    result = _replay_caseload(broker, events, dead, tmp_path, monkeypatch)

    assert result.exit_code == 0, result.output
    assert sum(f"{events}/0/11" in line for line in result.output.splitlines()) == 1
    assert sum(f"{events}/0/12" in line for line in result.output.splitlines()) == 1
    assert f"2 records opnieuw aangeboden op {events}." in result.output
    assert asyncio.run(_replayed_ids(kafka, events)) == [b"ev-5", b"ev-6"]


def test_a_replayed_record_refused_again_is_listed_and_replayed_once(
    broker: EmbeddedBroker, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = Broker(broker.bootstrap_servers)
    events, dead = unique_topic, f"{unique_topic}.dead-letter"
    # Refused, replayed before its cause was fixed, and refused again where the replay put it: the
    # dead-letter topic holds the same record twice, at two places read. Offered twice, it would
    # come back twice more, and so on, doubling with every replay.
    first = Record(events, 0, 4, KEY, b"{}", _event_headers(b"ev-7"))
    again = Record(events, 0, 21, KEY, b"{}", _event_headers(b"ev-7"))
    other = Record(events, 0, 5, KEY, b"{}", [("ce_id", b"ev-8")])
    unknown = "unknown municipality GM9999"
    _refuse_events(
        kafka, events, dead, [(first, unknown), (other, unknown), (again, "unappliable: still refused")]
    )
    result = _replay_caseload(broker, events, dead, tmp_path, monkeypatch)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # Shown once, where and why it was refused last.
    assert [line for line in lines if "ev-7" in line and "/0/" in line] == [
        next(line for line in lines if f"{events}/0/21" in line)
    ]
    assert "unappliable: still refused" in result.output
    assert f"{events}/0/4" not in result.output
    assert f"2 records opnieuw aangeboden op {events}." in result.output
    assert asyncio.run(_replayed_ids(kafka, events)) == [b"ev-7", b"ev-8"]


async def test_the_dead_letters_of_a_running_demo_are_found_without_naming_its_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("STROOM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'caseload.db'}")
    monkeypatch.setattr(stroom_cli.dead_letters, "console", Console(width=250))
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "STROOM_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    settings = CommonSettings()

    def dead_letters() -> Result:
        # In a thread of its own, as beside a demo: the command runs its own event loop.
        monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        return CliRunner().invoke(app, ["caseload", "dead-letters"])

    # The broker `stroom demo` and `stroom serve` start, with the topics they create.
    async with embedded_broker_if_needed(data_dir) as embedded:
        assert embedded is not None
        nothing = await asyncio.to_thread(dead_letters)
        assert nothing.exit_code == 0, nothing.output
        assert f"Geen dode letters op {settings.dead_letter_topic}." in nothing.output
        refused = Record(settings.events_topic, 0, 8, KEY, b"{}", _event_headers(b"ev-3"))
        topic = TopicSpec(settings.events_topic, settings.topic_partitions)
        await _refuse(
            Broker(embedded.bootstrap_servers), topic, settings.dead_letter_topic, refused, "conflict"
        )
        found = await asyncio.to_thread(dead_letters)
    assert found.exit_code == 0, found.output
    assert f"{settings.events_topic}/0/8" in next(
        line for line in found.output.splitlines() if "ev-3" in line
    )

    # Stopped, it leaves no address behind; one a killed demo left is not taken for a broker.
    assert not (data_dir / BROKER_ADDRESS_FILE).exists()
    (data_dir / BROKER_ADDRESS_FILE).write_text(f"127.0.0.1:{free_port()}")
    gone = await asyncio.to_thread(dead_letters)
    assert gone.exit_code == 2
    assert "geen broker om de dode letters van te lezen" in gone.output
