"""Settings every service shares; each service extends `CommonSettings` in its own settings.py."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stroom_platform.organisations import DEFAULT_FILE

_PLACEHOLDERS = {"changeme", "change-me", "secret", "test", "xxx"}


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STROOM_", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STROOM_DATABASE_URL")
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "STROOM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    data_dir: Path = Path("var")
    organisations_file: Path = DEFAULT_FILE
    events_topic: str = "stroom.events.v1"
    facts_topic: str = "stroom.caseload.facts.v1"
    dead_letter_topic: str = "stroom.events.v1.dead-letter"
    topic_partitions: int = 6
    log_level: str = "INFO"
    # Read access per municipality: "token=GM0405,GM0420;token2=werksaam-westfriesland".
    api_tokens: SecretStr | None = None

    def database_url_for(self, service: str) -> str:
        """PostgreSQL when DATABASE_URL says so, else an embedded SQLite file per service."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{service}.db'}"


def require_secret(value: SecretStr, name: str) -> SecretStr:
    raw = value.get_secret_value()
    if raw.lower() in _PLACEHOLDERS or len(raw) < 16:
        raise ValueError(f"{name} must be a real secret of at least 16 characters")
    return value
