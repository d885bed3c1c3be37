"""Settings of the reporting service: HTTP port, the facts consumer, and its database."""

from __future__ import annotations

from pydantic import Field

from stroom_platform.settings import CommonSettings, service_host, service_port


class ReportingSettings(CommonSettings):
    http_port: int = service_port("reporting", 8003)
    http_host: str = service_host("reporting")
    consumer_group: str = "stroom-reporting"
    # Facts applied per database transaction, and how long to go on filling one once its first
    # fact is in; offsets are committed after the transaction. Live traffic fills a batch for
    # `consumer_poll_ms` and stays far below the size; catching up a backlog fills it, and a
    # benefit changed several times in one batch is then restated once instead of in each.
    consumer_batch_size: int = Field(default=8000, ge=1)
    consumer_poll_ms: int = 50
    # The KPI cells are restated in a step of their own behind the facts, each benefit once for
    # all the batches that changed it: as soon as a batch comes in less than full (the consumer
    # has caught up), and while a backlog fills every batch, once this many facts wait. A restate
    # costs per benefit it restates, so counted in facts, the restates of a backlog (and with them
    # what a fact costs) do not depend on how fast the batches come; at the thousands of facts a
    # second a backlog loads at, this is some ten seconds of it.
    kpi_restate_facts: int = Field(default=48_000, ge=1)
    # Whatever the count, what waits is restated once the oldest change waiting is this old (also
    # when no batch comes after a full one). The KPI sheet lags the monthly figures by at most the
    # earlier of the two and one restate.
    kpi_restate_seconds: float = Field(default=30.0, gt=0)
    # Set false to serve reports from the database without consuming (read replicas, the CLI).
    consume: bool = True
    # Publication (`reports:read:public`): figures below this are suppressed, with every figure
    # they could be recomputed from.
    disclosure_threshold: int = Field(default=5, ge=1)
    # Finished report answers kept in memory while the read models stand (0: none kept).
    answers_kept: int = Field(default=32, ge=0)

    @property
    def uses_broker(self) -> bool:
        return self.consume

    @property
    def reporting_database_url(self) -> str:
        return self.database_url_for("reporting")
