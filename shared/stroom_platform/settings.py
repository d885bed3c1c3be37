"""Settings every service shares; each service extends `CommonSettings` in its own settings.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_contract.messages import counted
from stroom_platform.auth import DEFAULT_ALGORITHMS, ApiKey, check_algorithms
from stroom_platform.dialect import DEFAULT_POOL, PoolSize, make_engine
from stroom_platform.organisations import DEFAULT_FILE

BrokerProfileName = Literal["apache", "embedded"]
_PLACEHOLDERS = {"changeme", "change-me", "secret", "test", "xxx"}


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STROOM_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STROOM_DATABASE_URL")
    )
    # Each PostgreSQL engine's pool: connections kept, and opened beyond them under load;
    # deploy/SCALING.md counts the engines of each service and what a process may hold.
    database_pool_size: int = Field(default=DEFAULT_POOL.size, ge=1)
    database_max_overflow: int = Field(default=DEFAULT_POOL.overflow, ge=0)
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "STROOM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    # What the broker supports (`stroom_platform.kafka.clients.PROFILES`): `apache` for Apache
    # Kafka (idempotent producers), `embedded` for the broker `stroom serve` starts.
    broker_profile: BrokerProfileName = "embedded"
    data_dir: Path = Path("var")
    organisations_file: Path = DEFAULT_FILE
    events_topic: str = "stroom.events.v1"
    facts_topic: str = "stroom.caseload.facts.v2"
    dead_letter_topic: str = "stroom.events.v1.dead-letter"
    # Facts reporting cannot use, with their reason (`stroom reporting dead-letters`).
    facts_dead_letter_topic: str = "stroom.caseload.facts.v2.dead-letter"
    topic_partitions: int = 6
    log_level: str = "INFO"
    # HTTPS ends at a proxy in front of the service: answers carry HSTS although they arrive over HTTP.
    tls_terminated: bool = False
    # Requests a second per credential (or per address without one), and the burst allowed on top;
    # 0 turns the limit off.
    rate_limit_per_second: float = Field(default=100.0, ge=0)
    rate_limit_burst: int = Field(default=2000, ge=1)
    # OAuth 2.0: the issuer whose tokens the services accept, and its keys (a PEM or JWKS file,
    # or a JWKS URL). None of the three: the embedded issuer (`stroom_platform.issuer`).
    auth_issuer: str | None = None
    auth_public_keys_file: Path | None = None
    auth_jwks_url: str | None = None
    auth_audience: str = "stroom"
    auth_algorithms: list[str] = list(DEFAULT_ALGORITHMS)
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # API keys of machine clients, as JSON: [{"hash": "sha256:…", "subject": …, "scopes": [...],
    # "organisation": …, "sources": [...]}]; `stroom api-key` makes one.
    api_keys: list[ApiKey] = []
    # OAuth 2.0 clients of the embedded issuer's token endpoint (`client_credentials`), as JSON in
    # the shape of an API key entry: the client id as "subject", the SHA-256 of its secret as
    # "hash"; `stroom oauth-client` makes one. Their tokens live this many seconds.
    oauth_clients: list[ApiKey] = []
    oauth_token_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    # The static read tokens of earlier versions: refused, so that nobody believes them in force.
    api_tokens: str | None = None

    @field_validator("auth_issuer", "auth_audience", "auth_jwks_url")
    @classmethod
    def _not_placeholder(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.strip().lower() in _PLACEHOLDERS):
            raise ValueError("leeg of een voorbeeldwaarde")
        return value

    @field_validator("auth_jwks_url")
    @classmethod
    def _tls(cls, value: str | None) -> str | None:
        loopback = ("http://127.0.0.1", "http://localhost", "http://[::1]")
        if value is not None and not value.startswith(("https://", *loopback)):
            raise ValueError("moet een https://-adres zijn")
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        return check_algorithms(value)

    @model_validator(mode="after")
    def _auth_complete(self) -> CommonSettings:
        if self.api_tokens is not None:
            raise ValueError(
                "STROOM_API_TOKENS wordt niet meer ondersteund: gebruik OAuth 2.0-tokens"
                " (STROOM_AUTH_ISSUER, of de ingebouwde uitgever en `stroom token`) of STROOM_API_KEYS"
            )
        keys = self.auth_public_keys_file is not None or self.auth_jwks_url is not None
        if self.auth_issuer is not None and not keys:
            raise ValueError(
                "STROOM_AUTH_ISSUER vraagt ook STROOM_AUTH_PUBLIC_KEYS_FILE of STROOM_AUTH_JWKS_URL"
            )
        if keys and self.auth_issuer is None:
            raise ValueError(
                "STROOM_AUTH_PUBLIC_KEYS_FILE of STROOM_AUTH_JWKS_URL vraagt ook STROOM_AUTH_ISSUER"
            )
        return self

    @property
    def embedded_issuer(self) -> bool:
        return self.auth_issuer is None

    @property
    def uses_broker(self) -> bool:
        """Whether the service talks to Kafka as configured; `stroom serve` starts the embedded
        broker only for services that do."""
        return True

    @property
    def database_pool(self) -> PoolSize:
        return PoolSize(self.database_pool_size, self.database_max_overflow)

    def database_url_for(self, service: str) -> str:
        """PostgreSQL when DATABASE_URL says so, else an embedded SQLite file per service."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{service}.db'}"

    def database_engine(self, service: str, pool: PoolSize | None = None, **kwargs: Any) -> AsyncEngine:
        """An engine on `service`'s database with the configured pool, or `pool` for a part that
        needs fewer: every engine a service, its commands or the CLI open comes from here, so
        deploy/SCALING.md's connection budget holds for all of them."""
        return make_engine(self.database_url_for(service), pool or self.database_pool, **kwargs)


def service_port(service: str, default: int) -> Any:
    """`STROOM_<SERVICE>_PORT`, so the services of one `stroom serve` each get their own port.

    `STROOM_HTTP_PORT` still sets it for a process that runs one service.
    """
    return Field(
        default=default,
        validation_alias=AliasChoices(f"STROOM_{service.upper()}_PORT", "STROOM_HTTP_PORT"),
    )


def service_host(service: str) -> Any:
    """`STROOM_<SERVICE>_HOST`: the network interface one service listens on."""
    return Field(
        default="127.0.0.1",
        validation_alias=AliasChoices(f"STROOM_{service.upper()}_HOST", "STROOM_HTTP_HOST"),
    )


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field`, for messages that tell how to fix it."""
    info = settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def require_secret(value: SecretStr, name: str, minimum: int = 16) -> SecretStr:
    raw = value.get_secret_value()
    if raw.lower() in _PLACEHOLDERS or len(raw.encode()) < minimum:
        raise ValueError(f"{name} moet een echt geheim van minstens {counted(minimum, 'byte', 'bytes')} zijn")
    return value


PSEUDONYM_KEY_BYTES = 32


def pseudonym_keys(value: SecretStr) -> list[bytes]:
    """STROOM_PSEUDONYM_KEY: the key versions, oldest first, separated by commas."""
    keys = [key.strip() for key in value.get_secret_value().split(",")]
    for version, key in enumerate(keys, start=1):
        name = "STROOM_PSEUDONYM_KEY" if len(keys) == 1 else f"STROOM_PSEUDONYM_KEY (versie {version})"
        require_secret(SecretStr(key), name, PSEUDONYM_KEY_BYTES)
    return [key.encode() for key in keys]
