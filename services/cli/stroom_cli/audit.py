"""`stroom audit`: read and verify the services' audit logs; admin actions of the CLI recorded."""

from __future__ import annotations

import asyncio
import getpass
import socket
from typing import Annotated, Any

import typer
from rich.console import Console

from stroom_cli.runtime import SERVICE_NAMES, commands_of
from stroom_cli.terminal import show_table

console = Console()


def audit_log(service: str) -> Any:
    """The service's AuditLog on its configured database (the caller disposes of its engine)."""
    from stroom_platform.audit import AuditLog, head_file
    from stroom_platform.settings import CommonSettings

    table = commands_of(service).audit
    settings = CommonSettings()
    engine = settings.database_engine(service)
    return AuditLog(engine, table, service, head_file(settings.data_dir, table, engine))


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


async def record_admin_action(
    service: str, action: str, object: str, result: str, detail: dict[str, Any] | None = None
) -> None:
    """An admin action run from the command line, in the audit log of the service it changed."""
    log = audit_log(service)
    try:
        await log.append(action, object, result, cli_actor(), socket.gethostname(), detail)
    finally:
        await log.engine.dispose()


def audit(
    service: Annotated[
        list[str] | None, typer.Option("--service", help="intake, caseload of reporting (herhaalbaar)")
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Alleen de keten controleren")] = False,
    after: Annotated[int, typer.Option(help="Regels na dit volgnummer")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="Hoogstens zoveel regels per dienst")] = 100,
) -> None:
    """Het auditlogboek van de diensten, met de controle van de hashketen (exit 1 als die breekt)."""
    services = service or list(SERVICE_NAMES)
    broken = asyncio.run(_show(services, verify, after, limit))
    if broken:
        raise typer.Exit(1)


async def _show(services: list[str], verify_only: bool, after: int, limit: int) -> bool:
    broken = False
    for name in services:
        log = audit_log(name)
        try:
            entries = [] if verify_only else await log.page(after, limit)
            result = await log.verify()
            await log.append(
                "audit-inzage",
                f"{log.table.name} na {after}",
                "gecontroleerd" if verify_only else "getoond",
                cli_actor(),
                socket.gethostname(),
                {"entries": len(entries), "valid": result.valid},
            )
        finally:
            await log.engine.dispose()
        if entries:
            headings = ["#", "Tijdstip", "Actie", "Object", "Resultaat", "Actor", "Herkomst"]
            rows = [
                [
                    str(entry.seq),
                    doc["timestamp"],
                    doc["action"],
                    doc["object"],
                    doc["result"],
                    doc["actor"],
                    doc["origin"]["client_address"] or "",
                ]
                for entry in entries
                for doc in [entry.document()]
            ]
            show_table(console, name, [(h, h == "#") for h in headings], rows)
        if result.valid:
            console.print(f"{name}: keten intact ({result.checked} regels gecontroleerd)")
        else:
            broken = True
            console.print(
                f"[bold red]{name}: keten gebroken bij regel {result.first_broken}[/]: {result.reason}"
            )
    return broken
