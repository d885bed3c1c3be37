"""Ctrl+C while the `stroom` command starts: its imports take a second or two, in which Python
would print a traceback (or, started with SIGINT ignored, as a script's background job is, not
stop at all). Nothing has started then that a stop must wait for."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any

STOPS = "Stroom stopt."
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The handlers found at the start, given back once the command line is built.
_found: dict[int, Any] = {}


def _stop(signum: int, _frame: FrameType | None) -> None:
    # Written to the descriptor: a print could be interrupted inside another print.
    os.write(2, f"{STOPS}\n".encode())
    raise SystemExit(128 + signum)


def stop_while_starting() -> None:
    """Stop at SIGINT or SIGTERM with a Dutch line from here on, when run as `stroom` (not when a
    test imports the command line)."""
    if os.path.basename(sys.argv[0]) != "stroom" or _found:
        return
    for sig in _SIGNALS:
        _found[sig] = signal.getsignal(sig)
        signal.signal(sig, _stop)


def started() -> None:
    """The command line is built: each command handles signals as it did before (asyncio.run's
    KeyboardInterrupt, `stroom_platform.serving`'s stop)."""
    while _found:
        sig, handler = _found.popitem()
        signal.signal(sig, handler)
