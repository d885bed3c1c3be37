"""The rebuild's republication, once swapped in: every entity fact and every client record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.plan import Outgoing, client_records
from stroom_caseload.publishing import send_all
from stroom_caseload.rebuild.refold import Record
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.keys import key_kind
from stroom_platform.dialect import stream_on_driver
from stroom_platform.kafka.clients import broker_of

# The client records a worker folded are published from its memory: reading them back and
# deriving them again cost most of the republication. Only those whose ledger row changed
# after the fold (the catch-up's, and any the live workers bumped meanwhile) and the strays'
# are read from the live tables.

# Queues (key, value) facts for the facts topic.
Send = Callable[[Iterable[tuple[bytes, bytes]]], Awaitable[None]]


class RepublicationRefused(Exception):
    """The broker acknowledged not every fact the republication sent: the swapped-in tables
    hold facts their consumers never received."""


@asynccontextmanager
async def _publishing(settings: CaseloadSettings) -> AsyncIterator[tuple[Send, AsyncConnection]]:
    """Raises RepublicationRefused, once every send has an answer, when any was refused: the
    producer's `flush` waits for them all but raises none of their failures."""
    # No linger, as the live worker's facts producer: every send hands over whole record batches
    # (`send_all`), and a linger only held back each call's last, partial ones, and with them
    # the next call's first batch for the same partition.
    producer = broker_of(settings).producer(linger_ms=0, max_batch_size=settings.facts_batch_bytes)
    engine = settings.database_engine("caseload")
    sent: list[asyncio.Future[object]] = []

    async def send(facts: Iterable[tuple[bytes, bytes]]) -> None:
        sent.extend(await send_all(producer, settings.facts_topic, facts))

    await producer.start()
    try:
        async with engine.connect() as conn:
            yield send, conn
        await producer.flush()
    finally:
        await producer.stop()
        await engine.dispose()
    refused = [r for r in await asyncio.gather(*sent, return_exceptions=True) if isinstance(r, BaseException)]
    if refused:
        raise RepublicationRefused(
            f"de broker weigerde {len(refused)} van {len(sent)} recordbatches met feiten"
            f" ({type(refused[0]).__name__}: {refused[0]}); de herbouw staat in de tabellen,"
            " maar niet elk feit bereikte het feitentopic: start de herbouw opnieuw"
        )


async def republish(
    settings: CaseloadSettings, holds: ColumnElement[bool], records: list[Record], redo: Collection[str]
) -> tuple[int, int]:
    """The entity facts that `holds` (a condition on `entity_key`) from the live tables, and the
    folded client `records` but for those in `redo` (record ids): (entities, client records)."""
    entities = 0
    async with _publishing(settings) as (send, conn):
        en = live.entities
        missing = []
        async for rows in stream_on_driver(conn, select(en.c.entity_key, en.c.fact).where(holds), 5000):
            missing += [k for k, f in rows if f is None]
            stored = [(k.encode(), f.encode()) for k, f in rows if f is not None]
            await send(stored)
            entities += len(stored)
        # A live worker's continued fold since the swap keeps no full change.
        derived = await CaseloadRepository(conn).derived_facts(missing)
        await send((k.encode(), f) for k, f in derived.items())
        entities += len(derived)
        kept = [(key, value) for record_id, key, value in records if record_id not in redo]
        await send(kept)
    return entities, len(kept)


async def republish_read(
    settings: CaseloadSettings, redo: Collection[tuple[str, str]], strays: Collection[str]
) -> int:
    """The client records of `redo` ((source, id)) and of the stray persons, as the live ledger
    holds them now; gives how many."""
    async with _publishing(settings) as (send, conn):
        rows = await CaseloadRepository(conn).client_rows(redo)
        count = await _send(send, client_records(rows))
        persons = [key for key in strays if key_kind(key) == "client"]
        if persons:
            rows = await CaseloadRepository(conn).person_rows(persons)
            count += await _send(
                send, client_records([r for r in rows if (r.source, r.event_id) not in redo])
            )
    return count


async def _send(send: Send, facts: list[Outgoing]) -> int:
    await send((f.key.encode(), f.value) for f in facts)
    return len(facts)
