"""The PostgreSQL server the benches create their databases on: `STROOM_BENCH_POSTGRES`, the URL
of a database on it (by default the local server's `test`). A server of one's own, with
pg_stat_statements preloaded say, shows per statement what a bench's load costs there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import asyncpg

ADMIN_DSN = os.environ.get("STROOM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_SERVER = ADMIN_DSN.rsplit("/", 1)[0]


def server_dsn(database: str) -> str:
    """libpq's URL of `database` on the bench's server."""
    return f"{_SERVER}/{database}"


def engine_url(database: str) -> str:
    """SQLAlchemy's URL of `database` on the bench's server, through asyncpg."""
    return server_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)


# PostgreSQL 15 forces a checkpoint for each DROP DATABASE and waits for it; drops that wait at
# the same time share one, so databases are dropped side by side, not a checkpoint each.
DROPPING_AT_ONCE = 20


async def drop_databases(names: Iterable[str], admin_dsn: str = ADMIN_DSN) -> None:
    """Drops the databases of `names` on the server of `admin_dsn`, whoever is still connected."""
    slots = asyncio.Semaphore(DROPPING_AT_ONCE)

    async def drop(database: str) -> None:
        async with slots:
            admin = await asyncpg.connect(admin_dsn)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await admin.close()

    await asyncio.gather(*(drop(database) for database in names))


# The title PostgreSQL gives its processes (after `postgres: ` and any cluster name): a client's
# backend `user database host(port) state`, a parallel worker `parallel worker for PID leader`.
_WORKER = re.compile(r"parallel worker for PID (\d+)")
_BACKEND = re.compile(r"^(?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\]) ")
_TITLED = "postgres: "


def _process_clock(pid: int) -> int:
    """The CPU clock of process `pid` (Linux's encoding of clock_getcpuclockid): readable without
    a call per process, and failing with OSError once the process has gone."""
    return (~pid << 3) | 2


def _watch(databases: list[str], postmaster: int, interval: float) -> None:
    """Answers each line on stdin with the CPU seconds, since it started, of the processes working
    for each of `databases` (a JSON list in their order): their backends and those backends'
    parallel workers, found among the postmaster's children every `interval` seconds. A process's
    last sample stands once it has gone."""
    children = os.open(f"/proc/{postmaster}/task/{postmaster}/children", os.O_RDONLY)
    ours: dict[int, int] = {}  # alive: pid -> index of its database
    last: dict[int, float] = {}
    first: dict[int, float] = {}
    ended = [0.0] * len(databases)
    others: set[int] = set()
    started = False

    def classify(pid: int) -> None:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return
        if not title.startswith(_TITLED):  # just forked: not titled yet
            return
        title = title[len(_TITLED) :]
        if (worker := _WORKER.search(title)) is not None:
            leader = int(worker.group(1))
            if leader not in ours and leader not in others:  # seen in the same poll: next one
                return
            database = ours.get(leader)
        elif (backend := _BACKEND.match(title)) is not None and backend.group(1) in databases:
            database = databases.index(backend.group(1))
        else:
            database = None
        if database is None:
            others.add(pid)
            return
        with contextlib.suppress(OSError):
            cpu = time.clock_gettime(_process_clock(pid))
            # What a process found at the start had spent before counts not; one started since, whole.
            first[pid] = 0.0 if started else cpu
            last[pid] = cpu
            ours[pid] = database

    def poll() -> None:
        alive = {int(pid) for pid in os.pread(children, 1 << 16, 0).split()}
        for pid, database in list(ours.items()):
            if pid not in alive:
                ended[database] += last.pop(pid) - first.pop(pid)
                del ours[pid]
                continue
            with contextlib.suppress(OSError):
                last[pid] = time.clock_gettime(_process_clock(pid))
        others.intersection_update(alive)
        for pid in alive - ours.keys() - others:
            classify(pid)

    poll()
    started = True
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], interval)
        poll()
        if ready:
            if not sys.stdin.readline():
                return
            spent = list(ended)
            for pid, database in ours.items():
                spent[database] += last[pid] - first[pid]
            sys.stdout.write(json.dumps(spent) + "\n")
            sys.stdout.flush()


_Watcher = tuple[asyncio.subprocess.Process, asyncio.StreamWriter, asyncio.StreamReader]


class DatabaseCpu:
    """CPU of the PostgreSQL processes working for some databases on the bench's (local) server:
    the backends connected to each and their parallel workers, which a query's plan starts and
    stops while it runs (processes of their own: a backend's CPU leaves them out). A process of
    its own watches the postmaster's children every `interval` seconds; `seconds()` is what they
    spent, per database, since the watch began.

    Limits: a process's CPU after its last sample is missed, up to `interval` of each parallel
    worker's and of each backend that disconnects; a worker living less than that can be missed
    whole. The watcher's own CPU (every millisecond, 4 to 8 % of a core) loads the machine.
    Other databases' work is not counted, so it holds on a shared server; work the server does
    for every database (checkpoints, WAL writing, autovacuum) is not counted either."""

    def __init__(self, *databases: str, interval: float = 0.001, admin_dsn: str = ADMIN_DSN) -> None:
        self.databases = databases
        self.interval = interval
        self.admin_dsn = admin_dsn
        self._watcher: _Watcher | None = None

    async def __aenter__(self) -> DatabaseCpu:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Starts watching; the watcher also stops when this process ends (its stdin closes)."""
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            backend = await admin.fetchval("SELECT pg_backend_pid()")
            # A backend's parent, read while it lives.
            stat = await asyncio.to_thread(Path(f"/proc/{backend}/stat").read_text)
            postmaster = int(stat.rsplit(")", 1)[1].split()[1])
        finally:
            await admin.close()
        watcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.postgres",
            json.dumps(self.databases),
            str(postmaster),
            str(self.interval),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[1],
        )
        assert watcher.stdin is not None
        assert watcher.stdout is not None
        self._watcher = watcher, watcher.stdin, watcher.stdout
        await self.seconds()  # watching once it answers

    async def stop(self) -> None:
        assert self._watcher is not None
        watcher, stdin, _ = self._watcher
        stdin.close()
        await watcher.wait()

    async def seconds(self) -> dict[str, float]:
        assert self._watcher is not None
        _, stdin, stdout = self._watcher
        stdin.write(b"\n")
        await stdin.drain()
        spent = json.loads(await stdout.readline())
        return dict(zip(self.databases, spent, strict=True))


if __name__ == "__main__":
    _watch(json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
