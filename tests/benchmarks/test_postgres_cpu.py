"""The benches' PostgreSQL CPU counts a query's parallel workers, and each database's apart."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
from conftest import ADMIN_DSN, fresh_postgres_database

from bench.history_depth import cpu_seconds
from bench.postgres import DatabaseCpu

# Whatever the table's size, a scan is planned with two workers.
PARALLEL = (
    "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
    " SET max_parallel_workers_per_gather = 2"
)
SUM = "SELECT sum(hashtext(g::text)) FROM numbers"


async def test_parallel_workers_count_with_their_leader_and_each_database_apart(
    postgres_server_url: str,
) -> None:
    ours, other = [(await fresh_postgres_database(postgres_server_url)).rsplit("/", 1)[1] for _ in range(2)]
    server = ADMIN_DSN.rsplit("/", 1)[0]
    leader = await asyncpg.connect(f"{server}/{ours}")
    serial = await asyncpg.connect(f"{server}/{other}")
    try:
        for connection in (leader, serial):
            await connection.execute("CREATE TABLE numbers AS SELECT g FROM generate_series(1, 300000) g")
        await leader.execute(PARALLEL)
        await serial.execute("SET max_parallel_workers_per_gather = 0")
        pids = [await c.fetchval("SELECT pg_backend_pid()") for c in (leader, serial)]
        async with DatabaseCpu(ours, other, admin_dsn=ADMIN_DSN) as spent:
            before, own_before = await spent.seconds(), [cpu_seconds(pid) for pid in pids]
            plans, _ = await asyncio.gather(
                each(leader, f"EXPLAIN (ANALYZE, FORMAT JSON) {SUM}"), each(serial, SUM)
            )
            after = await spent.seconds()
            own = [cpu_seconds(pid) - b for pid, b in zip(pids, own_before, strict=True)]
    finally:
        await leader.close()
        await serial.close()
    assert sum(workers_launched(json.loads(plan)[0]["Plan"]) for plan in plans) > 0, "no parallel worker"
    # The leader scans a share of the table beside its workers: theirs is most of the CPU.
    assert after[ours] - before[ours] > 1.3 * own[0]
    # The other database's one backend, and nothing of the first's.
    assert abs(after[other] - before[other] - own[1]) < 0.05 * own[1]


def workers_launched(node: dict[str, Any]) -> int:
    """Workers the Gathers of a plan (EXPLAIN ANALYZE's JSON) started."""
    return int(node.get("Workers Launched", 0)) + sum(
        workers_launched(child) for child in node.get("Plans", [])
    )


async def each(connection: asyncpg.Connection, query: str) -> list[Any]:
    """`query` three times, one after the other, on `connection`."""
    return [await connection.fetchval(query) for _ in range(3)]
