"""Settings of the intake service: the pseudonymisation key, request limits and the relay."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from stroom_platform.settings import CommonSettings, pseudonym_keys, service_host, service_port


class IntakeSettings(CommonSettings):
    # No default: without its own key an installation would pseudonymise like every other one.
    pseudonym_key: SecretStr
    http_port: int = service_port("intake", 8001)
    http_host: str = service_host("intake")
    max_body_bytes: int = 32 * 1024 * 1024
    # Events validated and stored per transaction by `stroom import`.
    ingest_batch_size: int = 5000
    relay_batch_size: int = 5000
    # False when the relay runs as a process of its own (`python -m stroom_intake.outbox`).
    relay_in_app: bool = True
    relay_poll_seconds: float = 1.0
    # How far an event's `time` may lie ahead of intake's clock (the source's clock may run fast).
    future_margin_seconds: float = 300.0

    @field_validator("pseudonym_key")
    @classmethod
    def _real_secret(cls, value: SecretStr) -> SecretStr:
        pseudonym_keys(value)
        return value

    @property
    def uses_broker(self) -> bool:
        return self.relay_in_app

    @property
    def intake_database_url(self) -> str:
        return self.database_url_for("intake")
