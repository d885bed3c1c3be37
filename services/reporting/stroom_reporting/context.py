"""What the reporting endpoints share: database engine, organisations and the authoriser."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from stroom_platform.auth import Authoriser
from stroom_platform.organisations import OrganisationsConfig


@dataclass(frozen=True)
class ReportingContext:
    engine: AsyncEngine
    organisations: OrganisationsConfig
    authoriser: Authoriser
    # Publication: figures below this are suppressed (ReportingSettings.disclosure_threshold).
    disclosure_threshold: int = 5
