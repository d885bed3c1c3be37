"""The three services as the CLI runs them: their settings, apps, migrations and ports."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import typer
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import MetaData, Table

from stroom_contract.messages import dutch_message
from stroom_platform.broker import EmbeddedBroker, TopicSpec, broker_responds
from stroom_platform.db import Migrations
from stroom_platform.pseudonyms import Derived
from stroom_platform.settings import CommonSettings, env_name

SettingsT = TypeVar("SettingsT", bound=CommonSettings)

SERVICE_NAMES = ("intake", "caseload", "reporting")


class ServiceCommands(Protocol):
    """What every service's `commands` module offers the command line besides its own commands."""

    audit: Table
    MIGRATIONS: Migrations

    async def migrate(self, url: str) -> None: ...

    def ref_tables(self) -> tuple[MetaData, Derived]: ...


@dataclass(frozen=True)
class Service:
    name: str
    settings: CommonSettings
    create_app: Callable[[Any], FastAPI]
    commands: ServiceCommands

    @property
    def database_url(self) -> str:
        return self.settings.database_url_for(self.name)

    def on_broker(self, bootstrap_servers: str) -> Service:
        """The service with the broker its settings were read before it had an address."""
        settings = self.settings.model_copy(update={"kafka_bootstrap_servers": bootstrap_servers})
        return replace(self, settings=settings)

    def app(self) -> FastAPI:
        """The service's app; what keeps it from starting (a key, the issuer) is said in one line."""
        try:
            return self.create_app(self.settings)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    @property
    def port(self) -> int:
        port: int = getattr(self.settings, "http_port")  # noqa: B009 - each service declares its own
        return port

    @property
    def host(self) -> str:
        host: str = getattr(self.settings, "http_host")  # noqa: B009 - each service declares its own
        return host


class ConfigurationError(Exception):
    """A setting that stops a command; `exit()` says which and how to fix it, in one line."""

    def exit(self) -> NoReturn:
        print(f"stroom: {self}.", file=sys.stderr)
        raise typer.Exit(2) from None


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """The settings from the environment; a wrong or missing one ends the command in one line."""
    try:
        return settings_class()
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            name = env_name(settings_class, str(error["loc"][0])) if error["loc"] else "?"
            if not error["loc"]:
                # A check across settings: its message names the variables itself.
                messages.append(dutch_message(error))
            elif error["type"] == "missing":
                messages.append(f"{name} ontbreekt: zet deze omgevingsvariabele (zie README, Instellingen)")
            else:
                messages.append(
                    f"{name} is ongeldig ({dutch_message(error)}): pas deze omgevingsvariabele aan"
                )
        ConfigurationError("; ".join(messages)).exit()


def load_service(name: str) -> Service:
    """A service as the CLI runs it: its settings from the environment, its app and commands."""
    create_app, settings_class, commands = _parts(name)
    return Service(name, load_settings(settings_class), create_app, commands)


def commands_of(name: str) -> ServiceCommands:
    """A service's `commands`, without reading its settings (`stroom audit` needs no key)."""
    return _parts(name)[2]


def _parts(name: str) -> tuple[Callable[[Any], FastAPI], type[CommonSettings], ServiceCommands]:
    """The one place where a service's name becomes the service. Imported on demand: `stroom
    simulate` should not pay for Kafka clients and FastAPI."""
    if name == "intake":
        from stroom_intake import commands as intake
        from stroom_intake.app import create_app as intake_app
        from stroom_intake.settings import IntakeSettings

        return intake_app, IntakeSettings, intake
    if name == "caseload":
        from stroom_caseload import commands as caseload
        from stroom_caseload.app import create_app as caseload_app
        from stroom_caseload.settings import CaseloadSettings

        return caseload_app, CaseloadSettings, caseload
    if name == "reporting":
        from stroom_reporting import commands as reporting
        from stroom_reporting.app import create_app as reporting_app
        from stroom_reporting.settings import ReportingSettings

        return reporting_app, ReportingSettings, reporting
    raise typer.BadParameter(f"onbekende dienst {name!r}; kies uit {', '.join(SERVICE_NAMES)}")


def prepare_embedded_secrets(settings: CommonSettings) -> None:
    """Without a configured pseudonymisation key, use the one kept beside the embedded data.

    Every command finds it there (`serve`, `demo`, `import`, `migrate`). An embedded
    installation without one gets a random key; one on its own database brings its own
    (STROOM_PSEUDONYM_KEY). The key must outlive restarts: a new key would give the same
    person a new client_ref.
    """
    if os.environ.get("STROOM_PSEUDONYM_KEY"):
        return
    key_file = settings.data_dir / "pseudonym.key"
    if not key_file.exists():
        if settings.database_url:
            return
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_hex(32))
    os.environ["STROOM_PSEUDONYM_KEY"] = read_key_file(key_file)


def read_key_file(key_file: Path) -> str:
    """The key versions in the file, one a line, oldest first, as STROOM_PSEUDONYM_KEY has them."""
    return ",".join(line.strip() for line in key_file.read_text().splitlines() if line.strip())


# Where a running `stroom demo` or `stroom serve` says which port its embedded broker listens on,
# so that commands beside it (the dead letters) find it without being told.
BROKER_ADDRESS_FILE = "broker.address"


@asynccontextmanager
async def embedded_broker_if_needed(
    data_dir: Path, wanted: bool = True
) -> AsyncIterator[EmbeddedBroker | None]:
    """A local broker with Stroom's topics for as long as the block runs, unless
    KAFKA_BOOTSTRAP_SERVERS points at one or no service run needs one (`wanted`); its address is
    kept in `data_dir` meanwhile."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or not wanted:
        yield None
        return
    settings = load_settings(CommonSettings)
    broker = EmbeddedBroker(log_file=data_dir / "broker.log")
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    address = data_dir / BROKER_ADDRESS_FILE
    try:
        await broker.start(
            [
                TopicSpec(settings.events_topic, settings.topic_partitions),
                TopicSpec(settings.facts_topic, settings.topic_partitions),
                TopicSpec(settings.dead_letter_topic, 1),
                TopicSpec(settings.facts_dead_letter_topic, 1),
            ]
        )
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        address.write_text(broker.bootstrap_servers)
        yield broker
    finally:
        address.unlink(missing_ok=True)
        broker.stop()


async def running_embedded_broker(data_dir: Path) -> str | None:
    """The address of the embedded broker that a `stroom demo` or `stroom serve` on `data_dir`
    runs, or None when none answers there (one that was killed leaves its address behind)."""
    try:
        address = (data_dir / BROKER_ADDRESS_FILE).read_text().strip()
        host, _, port = address.rpartition(":")
        # The port first: aiokafka would log a refused connection as an error, in English.
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout=2.0)
        writer.close()
        await writer.wait_closed()
    except (OSError, ValueError, TimeoutError):
        return None
    return address if await broker_responds(address) else None
