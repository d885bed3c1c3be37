"""`stroom serve` starts the embedded broker only when a chosen service talks to Kafka: reporting
serving from its database alone (STROOM_CONSUME=false) runs without one, and says so on /status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import bearer

from stroom_cli.runtime import BROKER_ADDRESS_FILE
from stroom_platform.broker import free_port

STROOM = str(Path(sys.executable).parent / "stroom")


def _brokers(pid: int) -> list[int]:
    """The embedded brokers (tansu) among the process's children."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(child) for child in (task / "children").read_text().split())
    return [child for child in children if "tansu" in Path(f"/proc/{child}/cmdline").read_text()]


class Serving:
    def __init__(self, process: subprocess.Popen[bytes], url: str, data_dir: Path) -> None:
        self.process, self.url, self.data_dir = process, url, data_dir

    def status(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/status", headers=bearer("ops:read"), timeout=30)
        assert response.status_code == 200, response.text
        status: dict[str, object] = response.json()
        return status


@pytest.fixture(params=["false", "true"], ids=["zonder-consumer", "met-consumer"])
def reporting(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Serving]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env |= {
        "STROOM_DATA_DIR": str(tmp_path),
        "STROOM_REPORTING_PORT": str(port),
        "STROOM_CONSUME": request.param,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen([STROOM, "serve", "reporting"], env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"stroom serve stopped:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"stroom serve did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield request.param, Serving(process, url, tmp_path)
    finally:
        process.terminate()
        process.wait(30)


def test_the_embedded_broker_runs_only_for_a_consuming_reporting(reporting: tuple[str, Serving]) -> None:
    consume, serving = reporting
    brokers = _brokers(serving.process.pid)
    consumer = serving.status()["consumer"]
    assert isinstance(consumer, dict)
    if consume == "false":
        assert brokers == []
        assert not (serving.data_dir / BROKER_ADDRESS_FILE).exists()
        assert consumer["running"] is False
        assert consumer["partitions"] == {}
    else:
        assert len(brokers) == 1
        assert (serving.data_dir / BROKER_ADDRESS_FILE).exists()
        assert consumer["running"] is True
    # Ready either way: without a consumer there is no broker to reach.
    deadline = time.monotonic() + 60
    while (ready := httpx.get(f"{serving.url}/readyz", timeout=30)).status_code != 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.5)
