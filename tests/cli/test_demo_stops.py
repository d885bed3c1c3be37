"""`stroom demo` stops at a SIGINT whatever it is doing, also run by a script without a terminal,
where a background job starts with SIGINT ignored: at once, with a Dutch line, its broker gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stroom_cli.demo import STOPPING
from stroom_cli.runtime import BROKER_ADDRESS_FILE
from stroom_cli.starting import STOPS
from stroom_platform.broker import free_port

STROOM = str(Path(sys.executable).with_name("stroom"))
# Large enough that posting it to intake takes a while on any machine.
DEMO = ["demo", "--years", "5", "--scale", "0.2"]


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def _catches(pid: int, sig: int) -> bool:
    """Whether the process has a handler of its own for `sig`."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (sig - 1) & 1)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "moment",
    [
        # Its broker is up; it migrates or starts the services.
        "starting",
        # Simulated: the services run and the history is being posted to intake.
        "loading",
    ],
)
def test_a_sigint_stops_the_demo_at_once(tmp_path: Path, moment: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STROOM_", "DATABASE_URL", "KAFKA_"))}
    env |= {f"STROOM_{s}_PORT": str(free_port()) for s in ("INTAKE", "CASELOAD", "REPORTING")}
    env["STROOM_DATA_DIR"] = str(tmp_path / "var")
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [STROOM, *DEMO],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # As `make demo &` in a script: a non-interactive shell starts it with SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        deadline = time.monotonic() + 240

        def reached() -> bool:
            if moment == "starting":
                return (tmp_path / "var" / BROKER_ADDRESS_FILE).exists()
            return "Gesimuleerd:" in log.read_text()

        while not reached():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        broker = _children(process.pid)
        assert broker, "the demo runs its broker as a child"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    said = log.read_text()
    assert STOPPING in said
    assert "Stroom draait" not in said, "stopped only after loading"
    assert all(_gone(pid) for pid in broker)


@pytest.mark.parametrize("ignored", [False, True], ids=["interactive", "background-job"])
def test_a_sigint_while_the_command_line_starts_stops_it_with_a_dutch_line(
    tmp_path: Path, ignored: bool
) -> None:
    # Its imports take a second or two: a new user's Ctrl+C at once gets no traceback and is
    # not ignored (started with SIGINT ignored, as a script's background job is).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STROOM_", "DATABASE_URL", "KAFKA_"))}
    env |= {f"STROOM_{s}_PORT": str(free_port()) for s in ("INTAKE", "CASELOAD", "REPORTING")}
    env["STROOM_DATA_DIR"] = str(tmp_path / "var")
    process = subprocess.Popen(
        [STROOM, *DEMO],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None,
    )
    try:
        # Once it catches SIGTERM, which Python itself leaves alone, the command line is starting.
        deadline = time.monotonic() + 60
        while not _catches(process.pid, signal.SIGTERM):
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        said = process.communicate(timeout=10)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGINT, said
    assert said.strip() == STOPS
    assert not (tmp_path / "var").exists(), "nothing was started"
