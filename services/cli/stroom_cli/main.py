"""The `stroom` command: one entry point for operators, analysts and developers."""

from __future__ import annotations

import typer

from stroom_cli import (
    audit,
    caseload,
    contract,
    demo,
    imports,
    pseudonyms,
    report,
    reporting,
    serve,
    simulate,
    starting,
    tokens,
)

app = typer.Typer(
    name="stroom",
    help="Stroom: actuele cijfers over het klantenbestand van sociale diensten, uit zaaksysteem-events.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Installing shell completion edits the user's shell start-up files, and Typer words its
    # options in English only.
    add_completion=False,
)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("migrate")(serve.migrate)
app.command("import")(imports.import_file)
app.command("simulate")(simulate.simulate_command)
app.command("token")(tokens.token)
app.command("api-key")(tokens.api_key)
app.command("oauth-client")(tokens.oauth_client)
app.command("audit")(audit.audit)
app.add_typer(report.app, name="report")
app.add_typer(caseload.app, name="caseload")
app.add_typer(reporting.app, name="reporting")
app.add_typer(contract.app, name="contract")
app.add_typer(pseudonyms.app, name="pseudonyms")

# Built: from here each command stops as it always has.
starting.started()
