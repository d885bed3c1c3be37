"""`stroom serve` killed with SIGKILL leaves no embedded broker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stroom_platform.broker import free_port


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_serve_takes_its_broker_with_it(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env |= {"STROOM_DATA_DIR": str(tmp_path), "STROOM_HTTP_PORT": str(port)}
    stroom = str(Path(sys.executable).parent / "stroom")
    serve = subprocess.Popen(
        [stroom, "serve", "intake"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert serve.poll() is None, "stroom serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "stroom serve did not start"
            time.sleep(0.2)
        brokers = [pid for pid in _children(serve.pid) if "tansu" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(brokers) == 1
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait()
    deadline = time.monotonic() + 10
    while _alive(brokers[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphaned = _alive(brokers[0])
    if orphaned:
        os.kill(brokers[0], signal.SIGKILL)
    assert not orphaned, "the broker outlived stroom serve"
