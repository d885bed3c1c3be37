"""`stroom token` and `stroom api-key`: credentials for callers of the embedded installation."""

from __future__ import annotations

import json
import secrets
from typing import Annotated

import typer
from rich.console import Console

from stroom_cli.runtime import load_settings
from stroom_platform.auth import SCOPES, ApiKey, grant, hash_api_key
from stroom_platform.issuer import DEFAULT_TTL_SECONDS, embedded_token
from stroom_platform.organisations import load_organisations
from stroom_platform.settings import CommonSettings

err = Console(stderr=True)

ScopeOption = Annotated[
    list[str], typer.Option("--scope", help=f"scope, herhaalbaar: {', '.join(SCOPES)}", show_default=False)
]
OrganisationOption = Annotated[str | None, typer.Option(help="organisatie waaraan de toegang gebonden is")]
MunicipalityOption = Annotated[
    list[str] | None, typer.Option("--municipality", help="CBS-code GMnnnn, herhaalbaar", show_default=False)
]
SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source", help="CloudEvents-source waarvoor events:write geldt, herhaalbaar", show_default=False
    ),
]
SubjectOption = Annotated[str | None, typer.Option(help="wie of wat de toegang krijgt (sub)")]


def _checked(
    settings: CommonSettings,
    subject: str,
    scopes: list[str],
    organisation: str | None,
    municipalities: list[str] | None,
    sources: list[str] | None,
) -> None:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise typer.BadParameter(f"onbekende scope {', '.join(unknown)}; kies uit {', '.join(SCOPES)}")
    if "events:write" in scopes and (organisation is None or not sources):
        raise typer.BadParameter("events:write vraagt --organisation en ten minste één --source")
    try:
        grant(load_organisations(settings.organisations_file), subject, scopes, organisation, municipalities)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def token(
    scope: ScopeOption,
    organisation: OrganisationOption = None,
    municipality: MunicipalityOption = None,
    source: SourceOption = None,
    subject: SubjectOption = None,
    ttl: Annotated[int, typer.Option(help="geldigheid in seconden", min=60)] = DEFAULT_TTL_SECONDS,
) -> None:
    """Druk een ondertekend toegangstoken af van de ingebouwde uitgever (sleutel in STROOM_DATA_DIR)."""
    settings = load_settings(CommonSettings)
    who = subject or organisation or "stroom-cli"
    _checked(settings, who, scope, organisation, municipality, source)
    try:
        printed = embedded_token(
            settings,
            subject=who,
            scopes=scope,
            organisation=organisation,
            municipalities=municipality,
            sources=source or (),
            ttl_seconds=ttl,
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    typer.echo(printed)


def api_key(
    scope: ScopeOption,
    subject: Annotated[str, typer.Option(help="de machine die de sleutel krijgt")],
    organisation: OrganisationOption = None,
    municipality: MunicipalityOption = None,
    source: SourceOption = None,
) -> None:
    """Maak een API-sleutel: de sleutel voor de aanleverende machine, de hash voor STROOM_API_KEYS."""
    key, entry = _secret_and_entry(subject, scope, organisation, municipality, source)
    typer.echo(f"API-sleutel (geef door aan de aanleverende machine, wordt niet bewaard): {key}")
    typer.echo("Voeg toe aan STROOM_API_KEYS (JSON-lijst):")
    typer.echo(entry)


def oauth_client(
    scope: ScopeOption,
    client_id: Annotated[str, typer.Option(help="de naam van de client (het zaaksysteem)")],
    organisation: OrganisationOption = None,
    municipality: MunicipalityOption = None,
    source: SourceOption = None,
) -> None:
    """Registreer een OAuth-client (client_credentials) van de ingebouwde uitgever.

    Drukt het geheim voor het zaaksysteem af, en de registratie voor STROOM_OAUTH_CLIENTS."""
    secret, entry = _secret_and_entry(client_id, scope, organisation, municipality, source)
    typer.echo(f"client_id: {client_id}")
    typer.echo(f"client_secret (geef door aan het zaaksysteem, wordt niet bewaard): {secret}")
    typer.echo("Voeg toe aan STROOM_OAUTH_CLIENTS (JSON-lijst):")
    typer.echo(entry)


def _secret_and_entry(
    subject: str,
    scopes: list[str],
    organisation: str | None,
    municipalities: list[str] | None,
    sources: list[str] | None,
) -> tuple[str, str]:
    """A new random secret, and the configuration entry (JSON) holding only its hash."""
    settings = load_settings(CommonSettings)
    _checked(settings, subject, scopes, organisation, municipalities, sources)
    secret = "stroom_" + secrets.token_urlsafe(32)
    entry = ApiKey(
        hash=hash_api_key(secret),
        subject=subject,
        scopes=scopes,
        organisation=organisation,
        municipalities=municipalities,
        sources=sources or [],
    )
    return secret, json.dumps(entry.model_dump(exclude_none=True))
