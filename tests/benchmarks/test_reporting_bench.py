"""The reporting benchmark at a tiny size: it runs end to end, and Stroom's KPI sheet equals the
one DuckDB computes from the raw events (the bench's own check, which must find no difference);
with two sizes, each larger size's reports are timed in turn with the smallest's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from conftest import migrated_sqlite_database

from bench import reporting
from bench.credentials import ISSUER_VARIABLES
from stroom_reporting.commands import migrate


@pytest.mark.long
async def test_a_tiny_size_runs_and_its_kpi_sheet_equals_duckdbs(
    postgres_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a bench process: the reporting app trusts the embedded issuer the bench signs with.
    for variable in (*ISSUER_VARIABLES, "STROOM_AUTH_AUDIENCE"):
        monkeypatch.delenv(variable, raising=False)
    async with reporting.database("tiny") as url:
        result = await reporting.one_size(url, 2000, chunk=200, batch=500, runs=1)

    assert result["events"] >= 2000
    # Decoding's CPU beside its wall time: a single thread's CPU does not exceed its time taken.
    assert 0 < result["decoding_cpu_us"] <= result["decoding_us"] * 1.1
    assert result["kpi_differences"] == 0
    assert result["duckdb_kpi_ms"] > 0
    assert result["kpi_p50"] > 0


async def test_the_load_comes_in_full_batches_across_chunks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As a backlog comes to the consumer: a chunk's tail waits for the next chunk's facts, so
    only the load's last batch is smaller."""
    sizes: list[int] = []
    apply_facts = reporting.apply_facts

    async def counted(conn: Any, facts: list[Any], *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(facts))
        return await apply_facts(conn, facts, *args, **kwargs)

    monkeypatch.setattr(reporting, "apply_facts", counted)
    url = await migrated_sqlite_database(tmp_path / "reporting.db", migrate)
    loaded = await reporting.load(url, 1000, chunk=30, batch=200, ndjson=tmp_path / "raw.ndjson")

    assert len(sizes) > 3
    assert sizes[:-1] == [200] * (len(sizes) - 1)
    assert 0 < sizes[-1] <= 200
    assert sum(sizes) == loaded.events


@pytest.mark.long
async def test_two_sizes_are_compared_in_turn_and_leave_no_database(
    postgres_server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in (*ISSUER_VARIABLES, "STROOM_AUTH_AUDIENCE"):
        monkeypatch.delenv(variable, raising=False)

    assert await reporting.main([2000, 3000], chunk=200, batch=500, runs=1, panel=0, budget_minutes=60) == 0

    said = capsys.readouterr().out
    flatness = next(line for line in said.splitlines() if line.startswith("vlakheid bij"))
    for label in reporting.IN_TURN_LABELS.values():
        assert f"{label} " in flatness
    assert f"om beurten gemeten ({reporting.PAIRS} paren" in flatness
    admin = await asyncpg.connect(reporting.ADMIN)
    left = await admin.fetchval(
        "SELECT count(*) FROM pg_database WHERE datname LIKE $1", f"stroom_bench_{os.getpid()}_%"
    )
    await admin.close()
    assert left == 0


def test_a_size_beyond_the_machines_memory_is_refused_before_anything_runs() -> None:
    reason = reporting.refusal(10**12, reporting.WALL_US_PER_EVENT, float("inf"))

    assert reason is not None
    assert "geheugen" in reason
    assert reporting.refusal(1000, reporting.WALL_US_PER_EVENT, 60) is None


def test_a_size_over_the_time_budget_is_refused() -> None:
    reason = reporting.refusal(1_000_000, 1000, 1)

    assert reason is not None
    assert "--budget-minutes" in reason
