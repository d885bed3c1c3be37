"""`stroom contract export`: writes the JSON Schemas and the AsyncAPI document into docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    )


def generated_documents() -> dict[str, str]:
    return render(default_topics())


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Directory to write into.")] = Path("docs"),
) -> None:
    """Genereer docs/schemas/*.json en docs/asyncapi.yaml opnieuw uit de pydantic-modellen."""
    documents = generated_documents()
    stale = {
        path for path in (out / "schemas").glob("*.json") if path.relative_to(out).as_posix() not in documents
    }
    for path in sorted(stale):
        path.unlink()
        typer.echo(f"removed {path}")
    for relative, text in documents.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {target}")
    typer.echo(f"{len(documents)} documents up to date in {out}")
