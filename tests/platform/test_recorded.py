"""known_at reads the row versions as they were known at a moment, on both engines: each from its
recorded_from until (not including) its recorded_to, the current ones with no as_of."""

from __future__ import annotations

from datetime import UTC, datetime

from dialect.tables import metadata
from dialect.tables import recorded as versions
from sqlalchemy import select

from stroom_platform.db import make_engine
from stroom_platform.recorded import known_at


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


async def test_known_at_reads_each_moments_versions(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                versions.insert(),
                [
                    {"entity": "a", "version": 0, "recorded_from": _at(1), "recorded_to": _at(5)},
                    {"entity": "a", "version": 1, "recorded_from": _at(5), "recorded_to": None},
                    {"entity": "b", "version": 0, "recorded_from": _at(3), "recorded_to": _at(4)},
                ],
            )

            async def known(as_of: datetime | None) -> list[tuple[str, int]]:
                rows = await conn.execute(
                    select(versions.c.entity, versions.c.version).where(known_at(versions, as_of))
                )
                return sorted((key, version) for key, version in rows)

            assert await known(None) == [("a", 1)]
            assert await known(datetime(2025, 12, 31, tzinfo=UTC)) == []
            assert await known(_at(3)) == [("a", 0), ("b", 0)]
            # A version stops holding at its recorded_to, where the next one starts.
            assert await known(_at(4)) == [("a", 0)]
            assert await known(_at(5)) == [("a", 1)]
    finally:
        await engine.dispose()
