"""Writes a simulated history as NDJSON, one structured CloudEvent a line (as intake accepts in bulk)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from stroom_simulator.delivery import Event


def write_ndjson(events: Iterable[Event], path: Path | str) -> int:
    """Returns the number of events written; the parent directory is made if missing."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("wb", buffering=1 << 20) as file:
        for event in events:
            file.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count
