"""Reads events topic partitions from given offsets up to given ends, decoded a batch at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import TopicPartition

from stroom_caseload.domain.events import Decoded
from stroom_caseload.settings import CaseloadSettings
from stroom_contract.kafka_binding import decode_wire
from stroom_contract.validation import EventValidator, InvalidEvent
from stroom_platform.kafka.clients import broker_of
from stroom_platform.kafka.lag import end_offsets
from stroom_platform.organisations import load_organisations

Offsets = dict[TopicPartition, int]


# A rebuild may wait for the tail of a partition rather than give up on a busy broker.
TAIL_WAIT_MS = 10_000

Load = Callable[[Sequence[Decoded]], Awaitable[object]]
Report = Callable[[int], None]


class Replayer:
    def __init__(self, settings: CaseloadSettings, report: Report = lambda records: None) -> None:
        self.settings = settings
        organisations = load_organisations(settings.organisations_file)
        self.validator = EventValidator(None, organisations.municipality_codes)
        self.report = report
        broker = broker_of(settings)
        self.profile = broker.profile
        self.consumer = broker.consumer(
            max_poll_records=5000,
            # Larger fetches: fewer requests for a broker to answer over the whole topic.
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.records = 0
        self.skipped = 0
        self._reported = 0

    async def start(self) -> list[TopicPartition]:
        """Starts the consumer; gives the events topic's partitions."""
        await self.consumer.start()
        await self.consumer.topics()
        partitions = self.consumer.partitions_for_topic(self.settings.events_topic) or set()
        return [TopicPartition(self.settings.events_topic, p) for p in sorted(partitions)]

    async def assign(self, tps: list[TopicPartition], offsets: Offsets | None = None) -> None:
        """Reads `tps` from `offsets`, or from their beginning."""
        self.consumer.assign(tps)
        if offsets is None:
            await self.consumer.seek_to_beginning(*tps)
        else:
            for tp in tps:
                self.consumer.seek(tp, offsets[tp])

    async def ends(self, tps: list[TopicPartition]) -> Offsets:
        """The offset after each partition's last record, as the platform finds it for the broker's
        profile: a reported end at the last record batch's start would stop a replay inside that
        batch wherever a poll's record limit cuts it. Leaves the consumer unassigned."""
        ends = await end_offsets(self.consumer, tps, self.profile, wait_ms=TAIL_WAIT_MS)
        self.consumer.unsubscribe()
        return ends

    async def positions(self, tps: list[TopicPartition]) -> Offsets:
        """Where the replay of each of `tps` stands: the offset after the last record read."""
        return {tp: await self.consumer.position(tp) for tp in tps}

    async def stop(self) -> None:
        await self.consumer.stop()

    async def replay_until(self, load: Load, ends: Offsets) -> None:
        """Every record of the assigned partitions up to `ends` (see `ends`), a batch at a time.
        Reading on past an end is harmless: a record read twice is a duplicate."""
        decoded: list[Decoded] = []
        while True:
            pending = [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]
            if pending:
                fetched = await self.consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in fetched.items():
                    self._decode(tp.partition, records, decoded)
            # Fetches are small; transactions are not, for throughput.
            if decoded and (not pending or len(decoded) >= self.settings.rebuild_batch_size):
                await load(decoded)
                decoded = []
                self.report(self.records - self._reported)
                self._reported = self.records
            if not pending:
                return

    def _decode(self, partition: int, records: Sequence[Any], into: list[Decoded]) -> None:
        # A loop over a fetch's records, not a call per record: this runs for every record.
        validate = self.validator.validate
        append = into.append
        # Each `Decoded` made by `tuple.__new__` in C: a named tuple's own constructor is a
        # Python function, a call more per record.
        made = tuple.__new__
        for record in records:
            try:
                wire = decode_wire(record.value, record.headers)
                append(made(Decoded, (validate(wire), wire, partition)))
            except (InvalidEvent, ValueError):
                self.skipped += 1  # dead-lettered when it first came by
        self.records += len(records)
