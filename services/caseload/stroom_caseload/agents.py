"""The faust-streaming application: one agent applying event batches, hosted in the FastAPI process."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from stroom_caseload.consumer import Processor, Record, as_headers
from stroom_caseload.faust_transport import RawSchema, app_class
from stroom_caseload.settings import CaseloadSettings


def _release(events: Sequence[Any]) -> None:
    for event in events:
        event.ack()


def build_faust_app(settings: CaseloadSettings, processor: Processor) -> Any:
    """The durable truth is the database, so: memory store, no tables, no transactions."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = app_class(settings.fetch_max_wait_ms)(
        settings.consumer_group,
        broker=settings.broker_url,
        store="memory://",
        # faust keeps a folder of its own even with a memory store: with the rest of the data.
        datadir=str(settings.data_dir / f"faust-{settings.consumer_group}"),
        web_enabled=False,
        autodiscover=False,
        # The broker refuses transactions; at least once plus idempotent apply is exact anyway.
        processing_guarantee="at_least_once",
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        stream_wait_empty=False,
        # Short group timeouts: the first join waits about half a session, and a
        # killed worker's partitions move to the others within one session.
        broker_rebalance_timeout=2.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=0.5,
    )
    topic = app.topic(settings.events_topic, schema=RawSchema())

    async def apply_batches(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_seconds):
            for event in events:
                # take_events acknowledges on return; this reference holds the offsets back
                # until the processor has made the batch durable and published its facts.
                event.message.incref()
            records = [
                Record(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                    as_headers(e.message.headers),
                    e.message.timestamp,
                )
                for e in events
            ]
            await processor.submit(records, functools.partial(_release, events))

    app.agent(topic, name="caseload-apply")(apply_batches)
    return app
