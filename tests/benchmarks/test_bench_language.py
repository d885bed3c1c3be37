"""The benchmarks' argparse frame speaks Dutch, from the catalog the `stroom` command uses."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHES = [
    "bench",
    "bench.caseload",
    "bench.consumer_delay",
    "bench.reporting",
    "bench.intake",
    "bench.transaction_cost",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"LANGUAGE", "LC_ALL", "LANG"}}
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize("bench", BENCHES)
def test_help_shows_dutch_headings(bench: str) -> None:
    shown = _run(bench, "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("gebruik: ")
    assert "\nopties:\n" in shown.stdout
    assert "toon deze hulp en stop" in shown.stdout
    assert "usage:" not in shown.stdout
    assert "options:" not in shown.stdout


def _english_summary(bench: str) -> str:
    """The first line of the bench's docstring: English, for developers."""
    module = Path(__file__).parents[2] / (
        bench.replace(".", "/") + ("/__main__.py" if bench == "bench" else ".py")
    )
    docstring = ast.get_docstring(ast.parse(module.read_text())) or ""
    return docstring.splitlines()[0]


@pytest.mark.parametrize("bench", BENCHES)
def test_help_describes_the_bench_and_every_option_in_dutch(bench: str) -> None:
    shown = _run(bench, "--help").stdout
    usage, description, options = shown.split("\n\n", 2)
    assert usage.startswith(f"gebruik: python -m {bench} [-h]")
    flat = " ".join(description.split())
    assert flat
    assert " ".join(_english_summary(bench).split())[:40] not in flat
    # Each option's entry: its flags, then its help on the same line or the next, indented.
    entries = re.split(r"\n(?=  -)", options.removeprefix("opties:\n").rstrip())
    bare = [entry.strip() for entry in entries if len(re.split(r"\s{2,}", entry.strip())) < 2]
    assert bare == []


def test_a_bad_value_is_refused_in_dutch() -> None:
    refused = _run("bench.caseload", "--events", "veel")
    assert refused.returncode == 2
    said = refused.stderr.splitlines()[-1]
    assert said == "python -m bench.caseload: fout: bij argument --events: ongeldige int-waarde: 'veel'"
