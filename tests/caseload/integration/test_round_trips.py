"""What a live batch of new events costs in statements: each is a round trip to PostgreSQL, whose
own cost is most of a small batch's, so one more in every batch shows in the freshness."""

from __future__ import annotations

from caseload.statements import delivered, statement_log
from stroom_caseload.domain.plan import entity_write
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import Folds, apply_events
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import RETRACTED
from stroom_platform.dialect import is_postgres
from stroom_platform.organisations import OrganisationsConfig


async def test_a_batch_of_new_entities_takes_three_statements(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    plain = [e for e in delivered(pseudonymiser, organisations) if e.type != RETRACTED]
    folds = Folds(CaseloadSettings().folded_entities)
    async with statement_log(caseload_database) as (engine, statements):
        # Entities new to the store: the lock, the events' upsert with the entities' revisions,
        # and the entities' rows with the persons' point facts.
        async with engine.begin() as conn:
            applied = await apply_events(conn, plain[:50], folds=folds)
        folds.keep(applied.folded)
        if is_postgres(engine):
            assert len(statements) == 3, statements
            assert "pg_advisory_xact_lock_shared" in statements[0]
            assert "INSERT INTO caseload_events" in statements[1], statements
            assert "FROM caseload_entities" in statements[1], statements
        else:
            # One writer, no locks; the read beside the upsert is a statement of its own, once.
            revisions = [s for s in statements if "FROM caseload_entities" in s]
            assert len(revisions) == 1, statements
        # The revisions read with the upsert are those the entities have: applying the rest of
        # the history on from the kept folds stores what a fold of each entity's events gives.
        recomputed = {fact.key for fact in applied.facts}
        closings = rewrites = 0
        for start in range(50, len(plain), 50):
            statements.clear()
            async with engine.begin() as conn:
                applied = await apply_events(conn, plain[start : start + 50], folds=folds)
            folds.keep(applied.folded)
            recomputed.update(fact.key for fact in applied.facts)
            # As SQLite reads them, and as PostgreSQL looks each key up.
            reads = (
                "SELECT caseload_entities.entity_key, caseload_entities.revision FROM",
                "SELECT found.entity_key, found.revision FROM",
            )
            alone = [s for s in statements if s.startswith(reads)]
            # On PostgreSQL only ever beside the upsert; and the spells that end are closed in
            # the statement that inserts the entities' rows.
            assert len(alone) <= (0 if is_postgres(engine) else 1), statements
            closing = [s for s in statements if s.startswith("UPDATE") and "recorded_to IS NULL" in s]
            closings += len(closing)
            assert not (closing and is_postgres(engine)), statements
            # An entity folded again has its state rows cut and its spells reopened in one
            # statement there, before the one that inserts.
            cuts = [s for s in statements if "DELETE FROM" in s]
            spells = (live.members.name, live.phases.name)
            reopening = [s for s in statements if s.startswith(tuple(f"UPDATE {name}" for name in spells))]
            rewrites += bool(cuts)
            assert not (reopening and is_postgres(engine)), statements
            assert len(cuts) <= (1 if is_postgres(engine) else len(live.states)), statements
        # The history has spells that end: on SQLite each table's closing is a statement.
        assert closings or is_postgres(engine)
        # And late events, whose entities are folded again.
        assert rewrites
        async with engine.connect() as conn:
            keys = sorted(key for key in recomputed if not key.startswith("client:"))
            stored, current = await CaseloadRepository(conn).fold_inputs(keys)
        # An entity continued from a kept fold keeps no full change (see test_full_change_not_kept).
        kept = {key: (revision, fact) for key, (revision, fact) in current.items() if fact is not None}
        assert len(kept) > 20
        for key, (revision, fact) in kept.items():
            assert entity_write(key, stored[key], (revision - 1, None)).fact == fact, key


async def test_a_batch_appending_to_stored_entities_deletes_no_state_rows(
    caseload_database: str, pseudonymiser: Pseudonymiser, organisations: OrganisationsConfig
) -> None:
    # Events in recorded order, each once: every batch continues the folds of the entities
    # it appends to, whose last stored version is closed in place, not deleted and written again.
    unique = {(e.source, e.id): e for e in delivered(pseudonymiser, organisations) if e.type != RETRACTED}
    ordered = sorted(unique.values(), key=lambda e: (e.time, e.source, e.id))
    folds = Folds(CaseloadSettings().folded_entities)
    closed = 0
    async with statement_log(caseload_database) as (engine, statements):
        for start in range(0, len(ordered), 50):
            statements.clear()
            async with engine.begin() as conn:
                applied = await apply_events(conn, ordered[start : start + 50], folds=folds)
            folds.keep(applied.folded)
            refolded = any(
                s.startswith("SELECT caseload_events.entity_key, caseload_events.wire") for s in statements
            )
            deletes = [s for s in statements if "DELETE FROM" in s]
            # Only an entity folded again from its stored events (an event recorded at the
            # moment of the last one folded) has its rows rewritten.
            assert refolded or not deletes, statements
            closed += sum("UPDATE caseload_benefits SET" in s for s in statements)
    assert closed
