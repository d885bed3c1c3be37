"""Recorded time in the read models: a row version holds from `recorded_from` until `recorded_to`
(NULL while it is the current one), so that `as_of` reads the rows as they were known then."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, or_


def known_at(table: Table, as_of: datetime | None) -> ColumnElement[bool]:
    """The rows as they were known at `as_of` (recorded_from <= as_of < recorded_to); with None,
    as they are known now."""
    if as_of is None:
        return table.c.recorded_to.is_(None)
    return and_(
        table.c.recorded_from <= as_of,
        or_(table.c.recorded_to.is_(None), table.c.recorded_to > as_of),
    )
