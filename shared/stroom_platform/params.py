"""Query parameters checked to a 400 problem before they reach a query: dates and moments that
Python or the database cannot compute with (year 1 with an offset, year 10000) never get that far."""

from __future__ import annotations

import re
from datetime import date, datetime

from stroom_contract.bsn import contains_bsn
from stroom_platform.problems import Problem

# Wide enough for any benefit history and any report asked ahead, narrow enough that every
# moment converts to UTC and every month range stays a few thousand rows.
FIRST_YEAR = 1900
LAST_YEAR = 2999
MAX_REF_LENGTH = 200


def _slug(name: str) -> str:
    """`asOf`, `stock_date` -> `invalid-as-of`, `invalid-stock-date`."""
    return "invalid-" + re.sub(r"(?<!^)(?=[A-Z])", "-", name).replace("_", "-").lower()


def _out_of_range(name: str) -> Problem:
    return Problem(
        400,
        _slug(name),
        f"Ongeldige {name}",
        f"`{name}` moet tussen de jaren {FIRST_YEAR} en {LAST_YEAR} liggen.",
    )


def checked_day(name: str, value: date | None) -> date | None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _out_of_range(name)
    return value


def checked_moment(name: str, value: datetime | None) -> datetime | None:
    """A moment with a time zone offset, in the supported years (so it converts to UTC)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise Problem(
            400,
            _slug(name),
            f"Ongeldige {name}",
            f"`{name}` heeft een tijdzone nodig (RFC 3339, bijvoorbeeld 2025-01-31T23:59:59+01:00).",
        )
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _out_of_range(name)
    return value


def checked_ref(name: str, value: str) -> str:
    """A reference in a path or query: bounded, and never a BSN (it would be echoed back)."""
    if not 1 <= len(value) <= MAX_REF_LENGTH or contains_bsn(value):
        raise Problem(
            400,
            _slug(name),
            f"Ongeldige {name}",
            f"`{name}` is 1 tot {MAX_REF_LENGTH} tekens lang en bevat geen BSN.",
        )
    return value
