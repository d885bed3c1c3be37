"""The rebuild's worker pool: every share starts with the memory it was given and keeps its own
between steps, whether its shares run in forked processes or one after another in this one."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from stroom_caseload.rebuild.work import REVISIONS, Memory, Report, Workers, together


async def take(share: int, report: Report, memory: Memory) -> tuple[int, int]:
    """As `load` does: takes the revisions out of the memory, keeps something of its own."""
    revisions = memory.pop(REVISIONS)
    memory["held"] = share * 10
    report(1)
    return os.getpid(), revisions[("s", "1")]


async def recall(share: int, report: Report, memory: Memory) -> tuple[int, Any]:
    return share, memory.pop("held")


async def pid_of(share: int, report: Report, memory: Memory) -> int:
    return os.getpid()


@pytest.mark.parametrize("forking", [False, True])
async def test_each_share_takes_the_memory_it_started_with_and_keeps_its_own(forking: bool) -> None:
    reported: list[int] = []
    async with Workers(3, "WARNING", reported.append, {REVISIONS: {("s", "1"): 7}}, forking) as workers:
        loaded = await workers.run(take, [(0,), (1,), (2,)])
        recalled = await workers.run(recall, [(0,), (1,), (2,)])
    assert [revision for _, revision in loaded] == [7, 7, 7]
    assert recalled == [(0, 0), (1, 10), (2, 20)]
    assert sum(reported) == 3
    pids = {pid for pid, _ in loaded}
    if forking:
        assert len(pids) == 3
        assert os.getpid() not in pids
    else:
        assert pids == {os.getpid()}


async def fails_or_waits(share: int, marks: Path, report: Report, memory: Memory) -> None:
    """Share 0 fails once every share runs; the others would wait for ever, but leave a mark
    when called off."""
    memory["started"].wait()
    if share == 0:
        raise ValueError("deel 0 faalt")
    try:
        await asyncio.Event().wait()
    finally:
        (marks / str(share)).write_text("afgeroepen")


async def fails_or_is_deaf(share: int, report: Report, memory: Memory) -> None:
    """Share 0 fails once every share runs; the others block the signal that calls them off,
    and would wait for ever."""
    memory["started"].wait()
    if share == 0:
        raise ValueError("deel 0 faalt")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    await asyncio.Event().wait()


def started(count: int) -> Memory:
    """A barrier the shares' processes inherit: every share is running when share 0 fails."""
    return {"started": multiprocessing.get_context("fork").Barrier(count)}


async def test_the_first_failure_calls_off_the_step_in_the_other_processes_and_is_raised(
    tmp_path: Path,
) -> None:
    async with Workers(3, "WARNING", lambda records: None, started(3), forking=True) as workers:
        with pytest.raises(ValueError, match="deel 0 faalt"):
            await workers.run(fails_or_waits, [(share, tmp_path) for share in range(3)])
        # Cancelled, so their clean-up ran, before the failure was raised; and still serving.
        assert sorted(os.listdir(tmp_path)) == ["1", "2"]
        assert len(set(await workers.run(pid_of, [(0,), (1,), (2,)]))) == 3


async def test_a_process_deaf_to_the_call_off_is_killed_after_the_grace() -> None:
    workers = Workers(3, "WARNING", lambda records: None, started(3), forking=True, grace=0.5)
    async with workers:
        pids = await workers.run(pid_of, [(0,), (1,), (2,)])
        with pytest.raises(ValueError, match="deel 0 faalt"):
            await workers.run(fails_or_is_deaf, [(0,), (1,), (2,)])
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_failure_beside_the_workers_calls_off_their_step_and_is_raised(tmp_path: Path) -> None:
    memory = started(3)

    async def failing_once_they_run() -> None:
        await asyncio.to_thread(memory["started"].wait)
        raise ValueError("ernaast faalt")

    async with Workers(2, "WARNING", lambda records: None, memory, forking=True) as workers:
        with pytest.raises(ValueError, match="ernaast faalt"):
            await together(
                workers.run(fails_or_waits, [(1, tmp_path), (2, tmp_path)]), failing_once_they_run()
            )
        assert sorted(os.listdir(tmp_path)) == ["1", "2"]


def test_a_process_that_died_with_a_message_unread_answers_as_stopped() -> None:
    """Its end of the pipe is reset, not ended: the step fails with the rebuild's own message,
    not the socket's error (nor a task whose exception no one retrieves)."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    ours.send(("stap", ()))
    theirs.close()
    ok, error, _, _ = Workers._answer(ours)
    assert not ok
    assert str(error) == "een werkproces van de herbouw stopte onverwacht"


async def naps(share: int, seconds: float, report: Report, memory: Memory) -> int:
    await asyncio.sleep(seconds)
    return share


async def test_the_seconds_the_first_to_finish_waited_for_the_last_are_counted_per_step() -> None:
    async with Workers(3, "WARNING", lambda records: None, {}, forking=True) as workers:
        assert await workers.run(naps, [(0, 0.0), (1, 0.0), (2, 0.6)]) == [0, 1, 2]
    # Two shares each waited about the 0.6 s the third took longer; none waited for itself.
    assert 1.0 <= workers.idle_seconds["naps"] < 1.6
