"""The caseload under test: its settings on a fresh database and topics, and intake's validator."""

from __future__ import annotations

import pytest

from caseload.integration.test_consumer import prepared
from stroom_caseload.settings import CaseloadSettings
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.organisations import OrganisationsConfig


@pytest.fixture
async def settings(broker: EmbeddedBroker, postgres_server_url: str) -> CaseloadSettings:
    return await prepared(broker, postgres_server_url)


@pytest.fixture
def validator(pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig) -> EventValidator:
    return EventValidator(pseudonymiser, organisations.municipality_codes)
