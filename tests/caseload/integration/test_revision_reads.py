"""The entities' revisions, read in every live batch, are looked up by key: PostgreSQL plans the
worker's prepared statement once for any keys after five runs, and a plan made while the table
was small must not read the whole table once it has grown."""

from __future__ import annotations

from conftest import migrated_postgres_database
from sqlalchemy import text

from stroom_caseload.commands import migrate
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.tables import live
from stroom_platform.db import make_engine

SCANS = text(
    "SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan, seq_tup_read + coalesce(idx_tup_fetch, 0) AS read"
    " FROM pg_stat_xact_user_tables WHERE relname = :name"
)


async def test_revisions_are_looked_up_by_key_in_a_table_grown_since_its_plan(
    postgres_server_url: str,
) -> None:
    url = await migrated_postgres_database(postgres_server_url, migrate)
    engine = make_engine(url)
    entities = live.entities
    try:
        async with engine.begin() as conn:
            repo = CaseloadRepository(conn)
            # A new installation: its worker's first batches find no entity, and are the runs
            # that PostgreSQL's plan for any keys is made after. No ANALYZE comes between.
            for n in range(8):
                assert await repo.revisions([f"uitkering:{n}"]) == {}
            await conn.execute(
                entities.insert(),
                [
                    {"entity_key": f"uitkering:{n}", "kind": "benefit", "revision": 1 + n % 3, "fact": None}
                    for n in range(20_000)
                ],
            )
            # Counted in this transaction, so taken before and after.
            before = (await conn.execute(SCANS, {"name": entities.name})).one()
            for batch in range(10):
                keys = [f"uitkering:{7 * batch + n}" for n in range(5)]
                found = await repo.revisions([*keys, "uitkering:nooit"])
                assert found == {key: 1 + int(key.split(":")[1]) % 3 for key in keys}
            after = (await conn.execute(SCANS, {"name": entities.name})).one()
    finally:
        await engine.dispose()
    assert after.seq_scan == before.seq_scan
    assert after.idx_scan > before.idx_scan
    # The rows of the keys asked for, not the table's.
    assert after.read - before.read <= 10 * 5
