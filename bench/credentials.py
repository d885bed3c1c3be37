"""Tokens of the embedded issuer for the benchmarks' own calls, as `stroom demo` makes them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from stroom_platform.auth import EVENTS_WRITE, REPORTS_READ
from stroom_platform.issuer import embedded_token
from stroom_platform.organisations import Organisation
from stroom_platform.settings import CommonSettings
from stroom_simulator.history import SOURCE_PREFIX

ISSUER_VARIABLES = ("STROOM_AUTH_ISSUER", "STROOM_AUTH_PUBLIC_KEYS_FILE", "STROOM_AUTH_JWKS_URL")


def embedded_environment() -> dict[str, str]:
    """The environment of a bench process whose services trust a fresh embedded issuer."""
    data_dir = tempfile.mkdtemp(prefix="stroom-bench-")
    env = {k: v for k, v in os.environ.items() if k not in ISSUER_VARIABLES}
    return env | {"STROOM_DATA_DIR": data_dir}


def _bearer(data_dir: Path, **claims: object) -> dict[str, str]:
    settings = CommonSettings.model_construct(data_dir=data_dir, auth_issuer=None, auth_audience="stroom")
    return {"Authorization": f"Bearer {embedded_token(settings, **claims)}"}


def case_system(data_dir: Path, organisation: Organisation) -> dict[str, str]:
    sources = [SOURCE_PREFIX + m.code for m in organisation.municipalities]
    return _bearer(
        data_dir, subject="bench", scopes=[EVENTS_WRITE], organisation=organisation.code, sources=sources
    )


def reader(data_dir: Path) -> dict[str, str]:
    return _bearer(data_dir, subject="bench", scopes=[REPORTS_READ])
