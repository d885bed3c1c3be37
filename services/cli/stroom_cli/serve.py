"""`stroom serve` and `stroom migrate`: run the services, bring their databases up to date."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stroom_cli.runtime import (
    SERVICE_NAMES,
    ConfigurationError,
    Service,
    embedded_broker_if_needed,
    load_service,
    load_settings,
    prepare_embedded_secrets,
)
from stroom_platform.db import NotMigrated, require_migrated
from stroom_platform.logs import configure_logging
from stroom_platform.serving import AppGroup, Endpoint, run
from stroom_platform.settings import CommonSettings

console = Console(stderr=True)

ServicesArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="DIENSTEN", help="intake, caseload en/of reporting (standaard alle drie)", show_default=False
    ),
]


def _chosen(names: list[str] | None) -> list[str]:
    chosen = names or list(SERVICE_NAMES)
    unknown = [n for n in chosen if n not in SERVICE_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"onbekende dienst {', '.join(unknown)}; kies uit {', '.join(SERVICE_NAMES)}"
        )
    return chosen


async def migrate_services(services: list[Service]) -> None:
    for service in services:
        await service.commands.migrate(service.database_url)


async def check_migrated(services: list[Service]) -> None:
    """Each service's database at its newest migration, as its app checks at start-up; said here
    in one line, before uvicorn would log the app's refusal and exit."""
    for service in services:
        engine = service.settings.database_engine(service.name)
        try:
            await require_migrated(engine, service.commands.MIGRATIONS)
        except NotMigrated as exc:
            raise ConfigurationError(str(exc)) from None
        finally:
            await engine.dispose()


async def start_services(services: list[Service], host: str | None = None) -> AppGroup:
    """Each on its own host and port (STROOM_<SERVICE>_HOST/_PORT) unless `host` says otherwise."""
    ports = [s.port for s in services]
    if len(set(ports)) < len(ports):
        shared = sorted({p for p in ports if ports.count(p) > 1})
        names = ", ".join(f"STROOM_{s.name.upper()}_PORT" for s in services)
        raise ConfigurationError(
            f"diensten delen poort {', '.join(map(str, shared))}; geef elke dienst een eigen poort met "
            f"{names} (STROOM_HTTP_PORT geldt voor alle diensten tegelijk)"
        )
    group = AppGroup([Endpoint(s.name, s.app(), host or s.host, s.port) for s in services])
    await group.start()
    return group


def migrate(services: ServicesArg = None) -> None:
    """Breng de databases van de diensten naar het nieuwste schema (eenmalig, vóór het starten)."""
    settings = load_settings(CommonSettings)
    prepare_embedded_secrets(settings)
    loaded = [load_service(name) for name in _chosen(services)]
    asyncio.run(migrate_services(loaded))
    for service in loaded:
        console.print(f"[green]✓[/] {service.name}: database bijgewerkt")


def serve(
    services: ServicesArg = None,
    host: Annotated[
        str | None,
        typer.Option(help="netwerkinterface voor alle diensten; standaard STROOM_<DIENST>_HOST of 127.0.0.1"),
    ] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="eerst de databases bijwerken")
    ] = True,
) -> None:
    """Start de diensten; zonder KAFKA_BOOTSTRAP_SERVERS een lokale broker als een dienst Kafka gebruikt."""
    settings = load_settings(CommonSettings)
    configure_logging(settings.log_level)
    prepare_embedded_secrets(settings)
    try:
        run(_serve(_chosen(services), host, migrate_first, settings.data_dir))
    except ConfigurationError as exc:
        exc.exit()
    except asyncio.CancelledError:
        # A signal before the services ran: nothing was started that still runs.
        return


async def _serve(names: list[str], host: str | None, migrate_first: bool, data_dir: Path) -> None:
    services = [load_service(name) for name in names]
    wanted = any(service.settings.uses_broker for service in services)
    async with embedded_broker_if_needed(data_dir, wanted) as broker:
        if broker is not None:
            services = [service.on_broker(broker.bootstrap_servers) for service in services]
        if migrate_first:
            await migrate_services(services)
        else:
            await check_migrated(services)
        group = await start_services(services, host)
        for endpoint in group.endpoints:
            console.print(f"[green]●[/] {endpoint.name:<10} {endpoint.url}  (status: {endpoint.url}/status)")
        console.print("Stop met Ctrl+C.")
        await group.wait()
        await group.stop()
