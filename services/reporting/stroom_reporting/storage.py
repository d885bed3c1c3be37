"""The reporting database: migrations and the engine."""

from __future__ import annotations

from pathlib import Path

from stroom_platform.db import upgrade

MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(url: str) -> None:
    await upgrade(MIGRATIONS, url)
