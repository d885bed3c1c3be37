"""Database set-up of the caseload service: migrations."""

from __future__ import annotations

from pathlib import Path

from stroom_platform.db import upgrade

MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(url: str) -> None:
    """Create or upgrade the caseload tables (a one-off step, not part of app start-up)."""
    await upgrade(MIGRATIONS, url)
