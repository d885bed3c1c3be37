"""The three services as the CLI runs them: their settings, apps, migrations and ports."""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from stroom_platform.broker import EmbeddedBroker, TopicSpec
from stroom_platform.settings import CommonSettings

SERVICE_NAMES = ("intake", "caseload", "reporting")


@dataclass(frozen=True)
class Service:
    name: str
    settings: CommonSettings
    create_app: Callable[[Any], FastAPI]
    migrate: Callable[[str], Awaitable[None]]

    @property
    def database_url(self) -> str:
        return self.settings.database_url_for(self.name)

    @property
    def port(self) -> int:
        port: int = getattr(self.settings, "http_port")  # noqa: B009 - each service declares its own
        return port


def load_service(name: str) -> Service:
    """Imported on demand: `stroom simulate` should not pay for faust and FastAPI."""
    if name == "intake":
        from stroom_intake.app import create_app as intake_app
        from stroom_intake.settings import IntakeSettings
        from stroom_intake.storage import migrate as intake_migrate

        return Service(name, IntakeSettings(), intake_app, intake_migrate)
    if name == "caseload":
        from stroom_caseload.app import create_app as caseload_app
        from stroom_caseload.settings import CaseloadSettings
        from stroom_caseload.storage import migrate as caseload_migrate

        return Service(name, CaseloadSettings(), caseload_app, caseload_migrate)
    if name == "reporting":
        from stroom_reporting.app import create_app as reporting_app
        from stroom_reporting.settings import ReportingSettings
        from stroom_reporting.storage import migrate as reporting_migrate

        return Service(name, ReportingSettings(), reporting_app, reporting_migrate)
    raise ValueError(f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)}")


def prepare_embedded_secrets(data_dir: Path) -> None:
    """Without a configured pseudonymisation key, keep a random one beside the embedded data.

    The key must outlive restarts: a new key would give the same person a new client_ref.
    """
    if os.environ.get("STROOM_PSEUDONYM_KEY"):
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "pseudonym.key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_hex(32))
    os.environ["STROOM_PSEUDONYM_KEY"] = key_file.read_text().strip()


async def start_embedded_broker_if_needed(data_dir: Path) -> EmbeddedBroker | None:
    """Starts a local broker unless KAFKA_BOOTSTRAP_SERVERS points at one, and creates the topics."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return None
    settings = CommonSettings()
    broker = EmbeddedBroker(log_file=data_dir / "broker.log")
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    await broker.start(
        [
            TopicSpec(settings.events_topic, settings.topic_partitions),
            TopicSpec(settings.facts_topic, settings.topic_partitions),
            TopicSpec(settings.dead_letter_topic, 1),
        ]
    )
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    return broker
