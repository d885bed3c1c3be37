"""Debug logging shows Stroom's own lines, not a library's line per operation."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import orjson
import pytest

from stroom_platform.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("aiokafka", "aiosqlite", "uvicorn.access")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


@pytest.mark.usefixtures("restored_logging")
def test_debug_logging_leaves_the_per_operation_libraries_at_warning() -> None:
    configure_logging("DEBUG")
    assert logging.getLogger("stroom_caseload.consumer").isEnabledFor(logging.DEBUG)
    for library in ("aiokafka", "aiosqlite", "uvicorn.access"):
        assert not logging.getLogger(library).isEnabledFor(logging.INFO)
        assert logging.getLogger(library).isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("restored_logging")
def test_logging_writes_to_the_stderr_of_the_moment_not_one_closed_since(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a CLI runner does: logging is set up while its stream stands in for stderr, which
    # it closes when the command ends; a later command's lines must still reach stderr.
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO")
    first.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)

    logging.getLogger("stroom_platform.audit").info("nieuwste auditregel", extra={"seq": 7})

    line = orjson.loads(now.getvalue())
    assert (line["msg"], line["seq"], line["level"]) == ("nieuwste auditregel", 7, "info")
