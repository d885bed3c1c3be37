"""The `stroom` command: one entry point for operators, analysts and developers."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="stroom",
    help="Stroom: live caseload figures for social services, from case-system events.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
