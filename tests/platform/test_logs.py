"""Debug logging shows Stroom's own lines, not a library's line per operation."""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
