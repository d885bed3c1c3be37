"""`stroom pseudonyms rotate`: a new pseudonymisation key version, applied to the stored data."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

import typer
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import Table, inspect

from stroom_cli.audit import audit_log, cli_actor
from stroom_cli.runtime import (
    SERVICE_NAMES,
    commands_of,
    load_settings,
    prepare_embedded_secrets,
    read_key_file,
)
from stroom_platform.settings import CommonSettings, pseudonym_keys

app = typer.Typer(no_args_is_help=True)
console = Console()
ROTATION = "sleutelrotatie"


@app.callback()
def pseudonyms() -> None:
    """De pseudonimiseringssleutel: versies en rotatie."""


async def stored_version(service: str) -> int:
    """The key version of a service's stored refs: that of its last recorded rotation, else 1."""
    log = audit_log(service)
    version = 1
    try:
        async for batch in log.entries():
            for entry in batch:
                if entry.record.action == ROTATION and entry.record.detail:
                    version = int(entry.record.detail["version"])
    finally:
        await log.engine.dispose()
    return version


async def apply_version(service: str, version: int, key: bytes) -> int:
    """Rewrites the service's refs from version - 1 to `version`, with its audit entry, in one
    transaction: a rotation interrupted anywhere is either done or not."""
    from stroom_contract.bsn import Rekeyer
    from stroom_platform.pseudonyms import rewrite_refs

    metadata, derived = commands_of(service).ref_tables()
    log = audit_log(service)
    try:
        async with log.engine.begin() as conn:
            present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            tables: list[Table] = [
                t for t in metadata.sorted_tables if t.name in present and t.name != log.table.name
            ]
            changed = await rewrite_refs(conn, tables, Rekeyer(key), derived)
            await log.append(
                ROTATION,
                f"client_refs van {service}",
                "gelukt",
                cli_actor(),
                socket.gethostname(),
                {"version": version, "rows": changed},
                within=conn,
            )
    finally:
        await log.engine.dispose()
    return changed


@app.command()
def rotate() -> None:
    """Voeg een sleutelversie toe en zet de opgeslagen client_refs van de drie diensten ermee om.

    ref_nieuw = HMAC(nieuwe sleutel, ref_oud). Stop de diensten eerst; een onderbroken rotatie
    gaat bij de volgende aanroep verder."""
    settings = load_settings(CommonSettings)
    configured = bool(os.environ.get("STROOM_PSEUDONYM_KEY"))
    prepare_embedded_secrets(settings)
    key_file = settings.data_dir / "pseudonym.key"
    if not os.environ.get("STROOM_PSEUDONYM_KEY"):
        raise typer.BadParameter("geen sleutel gevonden: zet STROOM_PSEUDONYM_KEY")
    try:
        keys = pseudonym_keys(SecretStr(os.environ["STROOM_PSEUDONYM_KEY"]))
    except ValueError as exc:
        console.print(f"stroom: {exc}")
        raise typer.Exit(2) from None
    versions = {service: asyncio.run(stored_version(service)) for service in SERVICE_NAMES}
    if all(version >= len(keys) for version in versions.values()):
        if configured:
            console.print(
                "Alle diensten staan op sleutelversie "
                f"{len(keys)}. Voeg een nieuwe sleutel van minstens 32 tekens achteraan toe aan "
                "STROOM_PSEUDONYM_KEY (gescheiden door een komma) en roep dit commando opnieuw aan."
            )
            raise typer.Exit(1)
        new_key = secrets.token_hex(32)
        with key_file.open("a") as handle:
            handle.write(f"\n{new_key}\n")
        os.environ["STROOM_PSEUDONYM_KEY"] = read_key_file(key_file)
        keys.append(new_key.encode())
        console.print(f"Sleutelversie {len(keys)} toegevoegd aan {key_file}.")
    for service in SERVICE_NAMES:
        for version in range(versions[service] + 1, len(keys) + 1):
            changed = asyncio.run(apply_version(service, version, keys[version - 1]))
            console.print(f"{service}: {changed} rijen omgezet naar sleutelversie {version}.")
    console.print(f"Alle opgeslagen client_refs staan op sleutelversie {len(keys)}.")
