"""A new user's first hour, as the README tells it, on a fresh clone against the running demo.

Clones the repository, starts `stroom demo` on a small simulated history, runs the README's
other commands in order (a report of every family, a newly simulated file imported, the curl
examples taken from the README itself), each of which must exit 0; then stops the demo, starts
it again and finds the same figures plus the imported events, without simulating again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from stroom_cli.pipeline import STAGES, backlog_of
from stroom_platform.broker import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
STROOM = str(Path(sys.executable).with_name("stroom"))
ORGANISATION = ["--organisation", "werksaam-westfriesland"]
YEAR = date.today().year - 1
PERIOD = ["--from", f"{YEAR}-01", "--to", f"{YEAR}-12"]
DEMO = ["demo", "--years", "2", "--scale", "0.05"]
README_PORTS = {"8001": "intake", "8002": "caseload", "8003": "reporting"}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone")


@dataclass
class Walkthrough:
    home: Path
    env: dict[str, str]
    ports: dict[str, int]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stroom(self, *args: str) -> str:
        done = subprocess.run(
            [STROOM, *args], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"stroom {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, command: str) -> str:
        done = subprocess.run(
            ["bash", "-c", command], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def settled(self, within: float = 120) -> None:
        """Until intake, caseload and reporting have nothing left to do, three polls in a row."""
        deadline, steady = time.monotonic() + within, 0
        operator = {"Authorization": "Bearer " + self.stroom("token", "--scope", "ops:read").strip()}
        with httpx.Client(timeout=10, headers=operator) as client:
            while steady < 3:
                assert time.monotonic() < deadline, "the chain did not settle"
                states = [client.get(f"{self.url(s)}/status").json() for s in STAGES]
                steady = steady + 1 if backlog_of(*states).settled else 0
                time.sleep(0.5)


class Demo:
    """`stroom demo` in the background, its output in a log, as someone would run it."""

    def __init__(self, walk: Walkthrough, log: Path) -> None:
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [STROOM, *DEMO], cwd=walk.home, env=walk.env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_running(self, within: float = 240) -> str:
        deadline = time.monotonic() + within
        while "Stroom draait" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.5)
        return self.log.read_text()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=60) == 0, self.log.read_text()


def readme_curl_blocks(ports: dict[str, int]) -> list[str]:
    """The README's shell blocks with curl examples, as written, on this run's ports."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL):
        if "curl " in block:
            for port, service in README_PORTS.items():
                block = block.replace(f"127.0.0.1:{port}", f"127.0.0.1:{ports[service]}")
            blocks.append(block)
    return blocks


# Each block runs as one script (a token fetched in one line is used in the next), and every
# curl in it must get a 2xx answer, not only exit 0.
CURL_FAILS_ON_HTTP_ERRORS = 'set -e\ncurl() { command curl -sS --fail-with-body "$@"; }\n'


@pytest.fixture
def walkthrough(tmp_path: Path) -> Walkthrough:
    home = tmp_path / "stroom"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(home)], check=True, timeout=120)
    # The README's `.venv/bin/stroom`: this run's installation, not a second one.
    (home / ".venv").symlink_to(Path(sys.executable).parent.parent)
    ports = {service: free_port() for service in ("intake", "caseload", "reporting")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STROOM_", "DATABASE_URL", "KAFKA_"))}
    env |= {f"STROOM_{s.upper()}_PORT": str(p) for s, p in ports.items()}
    env["PATH"] = f"{Path(STROOM).parent}:{env.get('PATH', '')}"
    return Walkthrough(home, env, ports)


def imported(output: str) -> tuple[int, int]:
    # The summary table's row, not the progress lines that name the file too.
    row = next(line for line in output.splitlines() if "new.ndjson" in line and "│" in line)
    # Counts in Dutch notation: 1.717 is one thousand seven hundred and seventeen.
    counts = re.findall(r"\b\d{1,3}(?:\.\d{3})*\b", row)[-4:]
    accepted, _duplicates, conflicts, _refused = (int(n.replace(".", "")) for n in counts)
    return accepted, conflicts


@pytest.mark.long
def test_every_readme_command_works_and_the_demo_resumes(walkthrough: Walkthrough, tmp_path: Path) -> None:
    walk = walkthrough
    first = Demo(walk, tmp_path / "demo-1.log")
    try:
        started = first.wait_running()
        assert "Gesimuleerd" in started
        assert (walk.home / "var" / "pseudonym.key").exists()
        assert not list(walk.home.glob("*-data"))
        # The dead-letter commands as the demo prints them: they find its broker themselves.
        printed = re.findall(r"\.venv/bin/stroom \w+ dead-letters", started)
        assert len(printed) == 2, started
        for dead_letters in printed:
            walk.shell(dead_letters)
        walk.stroom("report", "monthly", *ORGANISATION, *PERIOD, "--municipality", "GM0405")
        walk.stroom("report", "monthly", *ORGANISATION, *PERIOD, "--csv", "m.csv", "--xlsx", "m.xlsx")
        walk.stroom("report", "board", *ORGANISATION, *PERIOD, "--out", "bestuur.xlsx")
        for family in ("reasons", "placements", "gate", "kpis"):
            walk.stroom("report", family, *ORGANISATION, *PERIOD, "--csv", f"{family}.csv")
        for family in ("composition", "caseload"):
            walk.stroom("report", family, *ORGANISATION, "--csv", f"{family}.csv")
        walk.stroom("report", "trajectories", *ORGANISATION, "--quarter", f"{YEAR}-10")

        walk.stroom(
            "simulate", *ORGANISATION, "--years", "1", "--seed", "2", "--scale", "0.05", "--out", "new.ndjson"
        )
        accepted, conflicts = imported(walk.stroom("import", "new.ndjson"))
        assert accepted > 0
        assert conflicts == 0

        blocks = readme_curl_blocks(walk.ports)
        assert sum(block.count("curl ") for block in blocks) >= 5, blocks
        for block in blocks:
            walk.shell(CURL_FAILS_ON_HTTP_ERRORS + block)
        assert (walk.home / "maand.xlsx").stat().st_size > 0

        walk.settled()
        before = walk.stroom("report", "monthly", *ORGANISATION, *PERIOD)
    finally:
        first.stop()

    second = Demo(walk, tmp_path / "demo-2.log")
    try:
        resumed = second.wait_running()
        assert "Hervat" in resumed
        assert "Gesimuleerd" not in resumed
        walk.settled()
        assert walk.stroom("report", "monthly", *ORGANISATION, *PERIOD) == before
        again = imported(walk.stroom("import", "new.ndjson"))
        assert again == (0, 0), "the imported events are still there: all duplicates now"
    finally:
        second.stop()
