"""Key rotation in stored data: every client_ref in a service's tables mapped to the next version.

A client_ref has one shape (`ps_` + 32 hex), wherever it is stored: in its own column, inside an
entity key (`client:ps_…`), a record id or an event's JSON. So the rotation rewrites every
occurrence of that shape in every text column of the service's tables (its audit log excepted:
entries are never changed, they keep the refs as they were shown). Values derived from a
rewritten column (intake's fingerprint of an event's JSON) are derived again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import String, Table, Text, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

CLIENT_REF = re.compile(r"(?<![0-9A-Za-z_])ps_[0-9a-f]{32}(?![0-9a-f])")
Derived = Mapping[str, Mapping[str, Callable[[dict[str, Any]], Any]]]


async def rewrite_refs(
    conn: AsyncConnection,
    tables: Iterable[Table],
    remap: Callable[[str], str],
    derived: Derived | None = None,
) -> int:
    """Rewrites the refs in `tables` in the caller's transaction; the number of rows changed."""
    cache: dict[str, str] = {}

    def substitute(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            ref = match.group()
            new = cache.get(ref)
            if new is None:
                new = cache[ref] = remap(ref)
            return new

        return CLIENT_REF.sub(one, value)

    changed = 0
    for table in tables:
        texts = [c for c in table.columns if isinstance(c.type, String | Text)]
        if not texts:
            continue
        keys = list(table.primary_key.columns) or list(table.columns)
        wanted = list(dict.fromkeys([*keys, *texts]))
        rows = (await conn.execute(select(*wanted))).mappings().all()
        extra = (derived or {}).get(table.name, {})
        for row in rows:
            new = {
                c.name: substitute(row[c.name])
                for c in texts
                if isinstance(row[c.name], str) and "ps_" in row[c.name]
            }
            new = {name: value for name, value in new.items() if value != row[name]}
            if not new:
                continue
            after = {**row, **new}
            new.update({name: derive(after) for name, derive in extra.items()})
            where = and_(*(c == row[c.name] for c in keys))
            await conn.execute(table.update().where(where).values(**new))
            changed += 1
    return changed
