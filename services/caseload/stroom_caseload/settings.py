"""Settings of the caseload service: consumer group, batching and the HTTP port."""

from __future__ import annotations

from stroom_platform.settings import CommonSettings, service_host, service_port


class CaseloadSettings(CommonSettings):
    http_port: int = service_port("caseload", 8002)
    http_host: str = service_host("caseload")
    consumer_group: str = "stroom-caseload"
    # Records fetched and decoded as one batch at most, and how long to wait to fill a batch
    # once its first record is in. Waiting is on every event's way and fills little: the records
    # of one fetch come at once, and the next fetch's seldom within 10 ms. Under load batches fill
    # by themselves, as what arrives while a transaction runs goes into the next one.
    batch_size: int = 2000
    batch_within_seconds: float = 0.0
    # Decoded events waiting for the database at most: the next transaction applies all of
    # them (so up to this and one batch), and fetching pauses while that many wait.
    transaction_events: int = 8000
    # Entities whose fold the worker keeps between batches (`service.Folds`), a few KB each. One
    # it no longer holds has its stored events read and folded again on its next event: a
    # round trip more in nearly every batch once a worker's partitions hold more entities.
    folded_entities: int = 30_000
    rebuild_batch_size: int = 5000
    # Processes a rebuild loads, folds and republishes with (PostgreSQL); 0: one per core.
    rebuild_workers: int = 0
    # How long a fetch may wait for records (on the way of every event to its projection);
    # None: what suits the broker (its profile in `stroom_platform.kafka.clients`).
    fetch_max_wait_ms: int | None = None
    # Facts go out a batch of events at a time; with small record batches (aiokafka's 16 KB)
    # every `send` waits for the partition's previous request to return.
    facts_batch_bytes: int = 512 * 1024

    @property
    def caseload_database_url(self) -> str:
        return self.database_url_for("caseload")
