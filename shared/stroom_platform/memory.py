"""Garbage collection tuned for processes that hold batches of thousands of decoded events."""

from __future__ import annotations

import gc
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# CPython collects the young generation every 700 new container objects, and every survivor is
# scanned again as it ages. A batch of a few thousand validated events is tens of thousands of
# such objects, alive until the batch is stored, so with the defaults the collector rescans each
# batch many times over: in the rebuild that was 40 % of all CPU. Cycles are rare in this code;
# collecting a hundred times less often costs little memory.
THRESHOLDS = (100_000, 50, 1000)


def freeze_startup_heap() -> None:
    """Call once a service has started.

    Start-up objects live as long as the process. Each request or batch allocates thousands of
    objects, so the collector runs often; frozen, its full passes skip the start-up heap, which
    otherwise costs as much as the work itself and stalls a request now and then (p99).
    """
    gc.freeze()


def tune_for_batches() -> None:
    """For the rest of a process that works in batches: the start-up heap frozen, and collections
    a hundred times less often."""
    freeze_startup_heap()
    gc.set_threshold(*THRESHOLDS)


def without_collection() -> None:
    """For the rest of a short-lived process that only works through batches: no collections at
    all. Even a hundred times less often, each one scans the hundred thousand newest objects, most
    of them the batch at hand (seen in the rebuild: 40 ms a time, 6 % of its load step), and the
    cycles they would find are few and small."""
    freeze_startup_heap()
    gc.disable()


class _BatchHolders:
    """Who is inside `batch_collection`. Its uses overlap in an async service (a batch and a
    restate from a background task, each across awaits) and need not end in the order they
    began: each saving and restoring the thresholds it found would let the first to end put the
    defaults back under the other, and the last leave the batch thresholds for good."""

    def __init__(self) -> None:
        self.count = 0
        self.outside = gc.get_threshold()


_holders = _BatchHolders()


@contextmanager
def batch_collection() -> Iterator[None]:
    """`tune_for_batches` for a while, in a process that is not only ours (a CLI, a test): the
    thresholds found before the first of overlapping uses come back when the last one ends."""
    if _holders.count == 0:
        _holders.outside = gc.get_threshold()
        gc.set_threshold(*THRESHOLDS)
    _holders.count += 1
    try:
        yield
    finally:
        _holders.count -= 1
        if _holders.count == 0:
            gc.set_threshold(*_holders.outside)


def peak_rss_mb() -> float:
    """This process's peak resident memory."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
