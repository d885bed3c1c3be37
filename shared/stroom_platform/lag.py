"""How far a consumer group is behind on a partition, the one rule every service's status uses."""

from __future__ import annotations


def partition_lag(end: int | None, committed: int | None, start: int = 0) -> int | None:
    """Records between the group's committed offset and the log end; None when the end is unknown.

    Never negative: a committed offset past the end seen (an end read before the last records
    arrived, or an end reported at a record batch's start) means the group is at the end. A
    group that has committed nothing is behind by everything from the log start on.
    """
    if end is None:
        return None
    position = committed if committed is not None else start
    return max(0, end - position)
