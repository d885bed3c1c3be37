"""Caseload tests: the full-scale runs (`slow`) only when asked for, to keep `make test` fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("-m") or "") or os.environ.get("STROOM_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="full-scale run: use -m slow or STROOM_SLOW_TESTS=1")
    for item in items:
        if "slow" in item.keywords and HERE in item.path.parents:
            item.add_marker(skip)
