"""Progress of a long step: a bar on a terminal, and a line every few seconds in a log.

Without a terminal (output to a file, CI, systemd) rich draws nothing until the step ends, so
someone reading the log would see minutes of silence; there a line says what, how far and
how fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

LOG_EVERY_SECONDS = 5.0


def grouped(number: float) -> str:
    """`number` rounded to a whole, its thousands set apart with a point as Dutch readers write
    them: 145.938 events, not Python's 145,938 (which reads as a decimal fraction in Dutch)."""
    return dutch_number(round(number))


def dutch_number(number: float) -> str:
    """`number` as Dutch readers write it: thousands set apart with a point, a decimal comma
    (1.261,7 where Python writes 1,261.7)."""
    return f"{number:,}".translate(_DUTCH_DIGITS)


_DUTCH_DIGITS = str.maketrans(",.", ".,")


class Step:
    """Counts the work done of one step; `advance` after each piece, `note` to change the text."""

    def __init__(
        self, console: Console, what: str, total: int | None, unit: str, every: float = LOG_EVERY_SECONDS
    ) -> None:
        self.console = console
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        self._every = every
        self._started = self._last_line = time.monotonic()
        self._bar: Progress | None = None
        self._task: Any = None

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        else:
            self._line_if_due()

    def note(self, text: str) -> None:
        """A new description of how far the step is, for work that is not counted in pieces."""
        self.what = text
        if self._bar is not None:
            self._bar.update(self._task, description=text)
        else:
            self._line_if_due()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        if self.total is None and not self.done:
            return f"{self.what} … ({elapsed:.0f} s)"
        share = f" van {grouped(self.total)} ({self.done / self.total:.0%})" if self.total else ""
        rate = grouped(self.done / elapsed)
        return f"{self.what}: {grouped(self.done)}{share} {self.unit}, {rate} {self.unit}/s ({elapsed:.0f} s)"

    def _line_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_line >= self._every:
            self._last_line = now
            self.console.print(self.line(), highlight=False, soft_wrap=True)


@contextmanager
def step(console: Console, what: str, total: int | None = None, unit: str = "events") -> Iterator[Step]:
    """A bar on a terminal; elsewhere a line every few seconds and one when the step is done."""
    progress = Step(console, what, total, unit)
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            progress._bar = bar
            progress._task = bar.add_task(what, total=total)
            yield progress
        return
    yield progress
    console.print(progress.line() + " — klaar", highlight=False, soft_wrap=True)


def counted(items: Iterator[Any], progress: Step) -> Iterator[Any]:
    for item in items:
        progress.advance()
        yield item
