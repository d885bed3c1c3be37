"""The command's frame in Dutch: Typer's own texts come from Stroom's catalog, which matches
its source and covers every text Typer looks up."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from stroom_cli.language import LOCALE
from stroom_cli.main import app

CATALOG = LOCALE / "nl" / "LC_MESSAGES"


def _source_catalog() -> dict[str, str]:
    """msgid -> msgstr of messages.po (one-line strings, as the file holds), without the header."""
    text = (CATALOG / "messages.po").read_text(encoding="utf-8")
    pairs = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', text, flags=re.MULTILINE)
    return {msgid: msgstr for msgid, msgstr in pairs if msgid}


def _typer_lookups() -> set[str]:
    """Every text Typer's modules pass to gettext's `_`."""
    found = set()
    for module in Path(typer.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                (argument,) = node.args
                assert isinstance(argument, ast.Constant), f"{module.name}: {ast.dump(argument)}"
                found.add(argument.value)
    return found


def test_compiled_catalog_matches_its_source() -> None:
    source = _source_catalog()
    with (CATALOG / "messages.mo").open("rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    assert {msgid: translations.gettext(msgid) for msgid in source} == source
    assert all(msgstr and msgstr != msgid for msgid, msgstr in source.items())


def test_catalog_covers_what_typer_looks_up() -> None:
    assert set(_source_catalog()) == _typer_lookups()


def test_help_and_errors_speak_dutch() -> None:
    runner = CliRunner(env={"LANGUAGE": "nl"})
    shown = runner.invoke(app, ["report", "monthly", "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    assert "Opties" in shown.output
    assert "[verplicht]" in shown.output
    assert "Options" not in shown.output
    assert "--install-completion" not in shown.output
    wrong = runner.invoke(app, ["rapport"], terminal_width=100)
    assert wrong.exit_code == 2
    assert "Onbekende opdracht 'rapport'." in wrong.output
    assert "Fout" in wrong.output
    assert "voor hulp" in wrong.output
