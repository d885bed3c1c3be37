"""`stroom serve` and `stroom migrate`: run the services, bring their databases up to date."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stroom_cli.runtime import (
    SERVICE_NAMES,
    Service,
    load_service,
    prepare_embedded_secrets,
    start_embedded_broker_if_needed,
)
from stroom_platform.logs import configure_logging
from stroom_platform.serving import AppGroup, Endpoint
from stroom_platform.settings import CommonSettings

console = Console(stderr=True)

ServicesArg = Annotated[
    list[str] | None,
    typer.Argument(help="intake, caseload en/of reporting (standaard alle drie)", show_default=False),
]


def _chosen(names: list[str] | None) -> list[str]:
    chosen = names or list(SERVICE_NAMES)
    unknown = [n for n in chosen if n not in SERVICE_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}"
        )
    return chosen


async def migrate_services(services: list[Service]) -> None:
    for service in services:
        await service.migrate(service.database_url)


async def start_services(services: list[Service], host: str) -> AppGroup:
    group = AppGroup([Endpoint(s.name, s.create_app(s.settings), host, s.port) for s in services])
    await group.start()
    return group


def migrate(services: ServicesArg = None) -> None:
    """Breng de databases van de diensten naar het nieuwste schema (eenmalig, vóór het starten)."""
    settings = CommonSettings()
    prepare_embedded_secrets(settings.data_dir)
    loaded = [load_service(name) for name in _chosen(services)]
    asyncio.run(migrate_services(loaded))
    for service in loaded:
        console.print(f"[green]✓[/] {service.name}: database up to date")


def serve(
    services: ServicesArg = None,
    host: Annotated[str, typer.Option(help="netwerkinterface om op te luisteren")] = "127.0.0.1",
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="eerst de databases bijwerken")
    ] = True,
) -> None:
    """Start de diensten; zonder KAFKA_BOOTSTRAP_SERVERS ook een lokale broker (ingebouwde modus)."""
    settings = CommonSettings()
    configure_logging(settings.log_level)
    asyncio.run(_serve(_chosen(services), host, migrate_first, settings.data_dir))


async def _serve(names: list[str], host: str, migrate_first: bool, data_dir: Path) -> None:
    prepare_embedded_secrets(data_dir)
    broker = await start_embedded_broker_if_needed(data_dir)
    try:
        services = [load_service(name) for name in names]
        if migrate_first:
            await migrate_services(services)
        group = await start_services(services, host)
        for endpoint in group.endpoints:
            console.print(f"[green]●[/] {endpoint.name:<10} {endpoint.url}  (status: {endpoint.url}/status)")
        console.print("Press Ctrl+C to stop.")
        await group.wait()
        await group.stop()
    finally:
        if broker is not None:
            broker.stop()
