"""Database set-up of the intake service: migrations and the engine."""

from __future__ import annotations

from pathlib import Path

from stroom_platform.db import upgrade

MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(url: str) -> None:
    """Create or upgrade the intake tables (a one-off step, not part of app start-up)."""
    await upgrade(MIGRATIONS, url)
