"""A PostgreSQL server of a test's own, so that it can be stopped and started without touching
the machine's shared one: initdb and pg_ctl from the installed PostgreSQL, on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from stroom_platform.broker import free_port


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no initdb under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return found[-1].parent


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        # Under the system's temporary directory: pytest's own is closed to other users.
        self.base = Path(tempfile.mkdtemp(prefix="stroom-pg-"))
        self.data = self.base / "data"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        # PostgreSQL refuses to run as root; a root CI container runs it as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.base / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
