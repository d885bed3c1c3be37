"""Intake's columns hold whatever the contract lets through: a value the contract accepts is
never truncated or refused by the database (PostgreSQL enforces the width, SQLite does not)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, String

from stroom_contract.events import EVENT_TYPES
from stroom_contract.keys import MAX_KEY_LENGTH
from stroom_contract.types import MAX_REF_LENGTH
from stroom_intake.tables import events, source_sequences


def _width(column: Column[Any]) -> int:
    assert isinstance(column.type, String)
    assert column.type.length is not None
    return column.type.length


def test_the_event_columns_are_as_wide_as_the_contract_allows() -> None:
    assert _width(events.c.source) == MAX_REF_LENGTH
    assert _width(events.c.event_id) == MAX_REF_LENGTH
    assert _width(source_sequences.c.source) == MAX_REF_LENGTH
    assert _width(events.c.type) >= max(len(name) for name in EVENT_TYPES)
    assert _width(events.c.entity_key) >= MAX_KEY_LENGTH
