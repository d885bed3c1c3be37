"""`stroom contract export` writes the JSON Schemas and the AsyncAPI document into docs/;
`stroom contract openapi` the services' OpenAPI documents (for the ADR lint in CI)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from stroom_cli.runtime import SERVICE_NAMES, load_service
from stroom_contract.messages import counted
from stroom_contract.schema import Topics, render
from stroom_platform.settings import CommonSettings

app = typer.Typer(help="Het eventcontract als documenten voor koppelende partijen.", no_args_is_help=True)


def default_topics() -> Topics:
    """The topic names as the settings define them; the environment does not change the docs."""
    fields = CommonSettings.model_fields
    return Topics(
        events=fields["events_topic"].default,
        facts=fields["facts_topic"].default,
        dead_letter=fields["dead_letter_topic"].default,
        facts_dead_letter=fields["facts_dead_letter_topic"].default,
    )


def generated_documents() -> dict[str, str]:
    return render(default_topics())


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Map om in te schrijven.")] = Path("docs"),
) -> None:
    """Genereer docs/schemas/*.json en docs/asyncapi.yaml opnieuw uit de pydantic-modellen."""
    documents = generated_documents()
    stale = {
        path for path in (out / "schemas").glob("*.json") if path.relative_to(out).as_posix() not in documents
    }
    for path in sorted(stale):
        path.unlink()
        typer.echo(f"verwijderd: {path}")
    for relative, text in documents.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            typer.echo(f"geschreven: {target}")
    typer.echo(f"{counted(len(documents), 'document', 'documenten')} bijgewerkt in {out}")


@app.command("openapi")
def openapi(
    out: Annotated[Path, typer.Option(help="Map om <dienst>.json in te schrijven.")],
) -> None:
    """Schrijf het OpenAPI-document van elke dienst (zoals op /v1/openapi.json) naar een map."""
    # The apps are only built, never started: a throw-away key stands in for the real one.
    os.environ.setdefault("STROOM_PSEUDONYM_KEY", secrets.token_hex(32))
    out.mkdir(parents=True, exist_ok=True)
    for name in SERVICE_NAMES:
        service = load_service(name)
        document = service.create_app(service.settings).openapi()
        target = out / f"{name}.json"
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"geschreven: {target}")
