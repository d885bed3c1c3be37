"""What the reporting endpoints share: database engine and organisations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_platform.organisations import OrganisationsConfig


@dataclass(frozen=True)
class ReportingContext:
    engine: AsyncEngine
    organisations: OrganisationsConfig
    # Publication: figures below this are suppressed (ReportingSettings.disclosure_threshold).
    disclosure_threshold: int = 5
