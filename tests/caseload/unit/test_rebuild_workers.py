"""The rebuild's worker pool: every share starts with the memory it was given and keeps its own
between steps, whether its shares run in forked processes or one after another in this one."""

from __future__ import annotations

import os
from typing import Any

import pytest

from stroom_caseload.rebuild.work import REVISIONS, Memory, Report, Workers


async def take(share: int, report: Report, memory: Memory) -> tuple[int, int]:
    """As `load` does: takes the revisions out of the memory, keeps something of its own."""
    revisions = memory.pop(REVISIONS)
    memory["held"] = share * 10
    report(1)
    return os.getpid(), revisions[("s", "1")]


async def recall(share: int, report: Report, memory: Memory) -> tuple[int, Any]:
    return share, memory.pop("held")


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
