"""Settings of the reporting service: HTTP port, the facts consumer, and its database."""

from __future__ import annotations

from stroom_platform.settings import CommonSettings


class ReportingSettings(CommonSettings):
    http_port: int = 8003
    consumer_group: str = "stroom-reporting"
    # Facts applied per database transaction; offsets are committed after it.
    consumer_batch_size: int = 2000
    consumer_poll_ms: int = 500
    # Set false to serve reports from the database without consuming (read replicas, the CLI).
    consume: bool = True

    @property
    def reporting_database_url(self) -> str:
        return self.database_url_for("reporting")
