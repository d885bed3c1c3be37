"""The benchmarks' argparse frame speaks Dutch, from the catalog the `stroom` command uses."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BENCHES = ["bench", "bench.caseload", "bench.reporting", "bench.intake", "bench.transaction_cost"]


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


def test_a_bad_value_is_refused_in_dutch() -> None:
    refused = _run("bench.caseload", "--events", "veel")
    assert refused.returncode == 2
    said = refused.stderr.splitlines()[-1]
    assert said == "caseload.py: fout: bij argument --events: ongeldige int-waarde: 'veel'"
