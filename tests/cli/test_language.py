"""The command's frame in Dutch: Typer's own texts, and those of the Click it bundles, come from
Stroom's catalog, which matches its source and covers every text Typer and stroom_cli.language
look up."""

from __future__ import annotations

import argparse
import ast
import gettext
import inspect
import re
from pathlib import Path

import pytest
import typer
from typer import _click
from typer.core import TyperGroup
from typer.testing import CliRunner

from stroom_cli import language
from stroom_cli.language import LOCALE
from stroom_cli.main import app

CATALOG = LOCALE / "nl" / "LC_MESSAGES"


def _source_catalog() -> dict[str, str]:
    """msgid -> msgstr of messages.po (one-line strings, as the file holds), without the header."""
    text = (CATALOG / "messages.po").read_text(encoding="utf-8")
    pairs = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', text, flags=re.MULTILINE)
    # The file escapes as a Python string literal does (\n, \").
    unescaped = ((ast.literal_eval(f'"{msgid}"'), ast.literal_eval(f'"{msgstr}"')) for msgid, msgstr in pairs)
    return {msgid: msgstr for msgid, msgstr in unescaped if msgid}


def _lookups() -> set[str]:
    """Every text Typer's modules, argparse and stroom_cli.language pass to gettext's `_`."""
    found = set()
    modules = [*Path(typer.__file__).parent.glob("*.py"), Path(argparse.__file__), Path(language.__file__)]
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                (argument,) = node.args
                # argparse passes a group's title, which the program that builds it words itself.
                if module.name == "argparse.py" and not isinstance(argument, ast.Constant):
                    continue
                assert isinstance(argument, ast.Constant), f"{module.name}: {ast.dump(argument)}"
                found.add(argument.value)
    return found


def test_compiled_catalog_matches_its_source() -> None:
    source = _source_catalog()
    with (CATALOG / "messages.mo").open("rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    assert {msgid: translations.gettext(msgid) for msgid in source} == source
    assert all(msgstr and msgstr != msgid for msgid, msgstr in source.items())


def test_catalog_covers_what_typer_and_stroom_look_up() -> None:
    assert set(_source_catalog()) == _lookups()


def test_help_and_errors_speak_dutch() -> None:
    runner = CliRunner(env={"LANGUAGE": "nl"})
    shown = runner.invoke(app, ["report", "monthly", "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    assert "Opties" in shown.output
    assert "[verplicht]" in shown.output
    assert "Options" not in shown.output
    assert "--install-completion" not in shown.output
    assert "<tekst>" in shown.output
    assert "<tijdstip>" in shown.output
    wrong = runner.invoke(app, ["rapport"], terminal_width=100)
    assert wrong.exit_code == 2
    assert "Onbekende opdracht 'rapport'." in wrong.output
    assert "Fout" in wrong.output
    assert "voor hulp" in wrong.output


def _command_paths(command: _click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _command_paths(sub, (*path, name))
    return found


ALL_COMMANDS = _command_paths(typer.main.get_command(app))

# Texts Click and Typer print in English when nothing translates them.
ENGLISH = (
    "Usage",
    "[OPTIONS]",
    "COMMAND",
    "[ARGS]",
    "Show this message",
    "Options",
    "Arguments",
    "Commands",
    "[default:",
    "[required]",
    "[env var:",
    "Missing",
    "No such",
    "Invalid value",
    "Possible options",
    "unexpected",
    "requires",
    "does not take",
    "Error",
    "Try ",
    "for help",
    "<bool>",
    "<str>",
    "<int>",
    "<float>",
    "<datetime>",
    "<path>",
    "list[",
    "Input should",
    "does not exist",
    "is a directory",
    "does not match",
    "Did you mean",
)


def _english_in(output: str) -> list[str]:
    return [fragment for fragment in ENGLISH if fragment in output]


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(("stroom", *path)))
def test_every_help_speaks_dutch(path: tuple[str, ...]) -> None:
    shown = CliRunner(env={"LANGUAGE": "nl"}).invoke(app, [*path, "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    assert _english_in(shown.output) == []
    usage = " ".join(("Gebruik: stroom", *path, "[OPTIES]"))
    assert usage in shown.output
    (usage_line,) = [line for line in shown.output.splitlines() if "Gebruik:" in line]
    # An argument's name in the usage line is the CLI's own word: Dutch, in capitals.
    assert all(name.isupper() for name in re.findall(r"[\[{]([^\]}]+)[\]}]", usage_line))
    assert "Toon deze hulp en stop." in " ".join(shown.output.replace("│", " ").split())
    (help_line,) = [line for line in shown.output.splitlines() if "--help" in line]
    assert "<" not in help_line


def test_every_command_is_summed_up_in_one_unbroken_line() -> None:
    """A summary broken over lines in its docstring shows that break in the list of commands."""
    broken = [
        " ".join(path)
        for path in ALL_COMMANDS
        if "\n" in inspect.cleandoc(_command_at(path).help or "").split("\n\n")[0]
    ]
    assert broken == []


def _command_at(path: tuple[str, ...]) -> _click.Command:
    command = typer.main.get_command(app)
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


@pytest.mark.parametrize(
    ("arguments", "command", "problem"),
    [
        (["reporting", "bogus"], "stroom reporting", "Onbekende opdracht 'bogus'."),
        (["repor"], "stroom", "Onbekende opdracht 'repor'. Bedoelt u 'report', 'reporting'?"),
        (["report", "monthly"], "stroom report monthly", "Ontbrekende optie '--organisation'."),
        (["report", "monthly", "--bogus", "1"], "stroom report monthly", "Onbekende optie: --bogus"),
        (
            ["report", "monthly", "--organisatio", "x"],
            "stroom report monthly",
            "Onbekende optie: --organisatio (Mogelijke opties: --organisation)",
        ),
        (
            ["demo", "--years", "x"],
            "stroom demo",
            "Ongeldige waarde voor '--years': Verwacht een geheel getal.",
        ),
        (["demo", "--scale", "x"], "stroom demo", "Ongeldige waarde voor '--scale': Verwacht een getal."),
        (["simulate", "--start", "gisteren"], "stroom simulate", "'gisteren' heeft niet de vorm '%Y-%m-%d'."),
        (
            ["import", "/nix.ndjson"],
            "stroom import",
            "bestand '/nix.ndjson' bestaat niet.",
        ),
        (["import", "/"], "stroom import", "Ongeldige waarde voor 'BESTANDEN': bestand '/' is een map."),
        (
            ["report", "monthly", "--as-of", "gisteren"],
            "stroom report monthly",
            "Ongeldige waarde voor '--as-of': Verwacht een tijdstip of datum (RFC 3339).",
        ),
        (["caseload", "summary"], "stroom caseload summary", "Ontbrekend argument 'GEMEENTE'."),
        (
            ["caseload", "summary", "GM0405", "extra"],
            "stroom caseload summary",
            "Onverwachte extra argumenten: extra",
        ),
        (
            ["report", "monthly", "--organisation"],
            "stroom report monthly",
            "Optie '--organisation' vraagt om een waarde.",
        ),
        (["demo", "--fresh=ja"], "stroom demo", "Optie '--fresh' neemt geen waarde aan."),
    ],
)
def test_usage_errors_speak_dutch(arguments: list[str], command: str, problem: str) -> None:
    wrong = CliRunner(env={"LANGUAGE": "nl"}).invoke(app, arguments, terminal_width=100)
    assert wrong.exit_code == 2
    assert problem in wrong.output
    assert f"Gebruik: {command} [OPTIES]" in wrong.output
    assert f"Zie '{command} --help' voor hulp." in wrong.output
    assert _english_in(wrong.output) == []


def test_another_language_keeps_clicks_english() -> None:
    runner = CliRunner(env={"LANGUAGE": "en"})
    shown = runner.invoke(app, ["reporting", "--help"], terminal_width=100)
    assert "Usage: stroom reporting [OPTIONS] COMMAND [ARGS]..." in shown.output
    assert "Show this message and exit." in shown.output
    assert "<list[Path]>" in runner.invoke(app, ["import", "--help"], terminal_width=100).output
    wrong = runner.invoke(app, ["report", "monthly", "--bogus", "1"], terminal_width=100)
    assert "No such option: --bogus" in wrong.output


def test_a_flag_shows_no_value_type() -> None:
    shown = CliRunner(env={"LANGUAGE": "nl"}).invoke(app, ["demo", "--help"], terminal_width=100)
    (fresh,) = [line for line in shown.output.splitlines() if "--fresh" in line]
    (stay,) = [line for line in shown.output.splitlines() if "--stay" in line]
    (years,) = [line for line in shown.output.splitlines() if "--years" in line]
    assert "<" not in fresh
    assert "<" not in stay
    assert "<getal>" in years
