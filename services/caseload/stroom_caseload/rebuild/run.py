"""Rebuild: replay the events topic from the start into the shadow tables, then swap them in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_caseload.domain.client import CLIENT_EVENT_TYPES
from stroom_caseload.domain.events import Decoded
from stroom_caseload.domain.publication import record_id
from stroom_caseload.rebuild import shadow_set
from stroom_caseload.rebuild.replay import Replayer
from stroom_caseload.rebuild.republication import RepublicationRefused, republish_read
from stroom_caseload.rebuild.shadow_ledger import merge_marks
from stroom_caseload.rebuild.shadow_ledger import strays as find_strays
from stroom_caseload.rebuild.work import (
    REVISIONS,
    Share,
    Workers,
    client_revisions,
    fold,
    fold_strays,
    load,
    publish,
    together,
    worker_count,
)
from stroom_caseload.repository import CaseloadRepository
from stroom_caseload.service import APPLY_LOCK, apply_events
from stroom_caseload.settings import CaseloadSettings
from stroom_caseload.tables import live, shadow
from stroom_contract.retractions import Retractions
from stroom_platform.dialect import lock_out_writers, swap_in
from stroom_platform.memory import batch_collection

# The swap is one transaction that first shuts out the workers (PostgreSQL: an exclusive
# advisory lock they take shared per batch; SQLite: the single write lock), applies what
# arrived on the topic meanwhile, and puts the shadow set in place of the live one (`swap_in`:
# PostgreSQL swaps the tables' names, SQLite copies the rows). Each rebuilt
# entity's revision is set above its live one, so facts consumers accept the republished facts.
log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildResult:
    records: int
    skipped: int
    entities: int
    client_records: int
    # Processes that loaded, folded and republished, and the most memory any of them held.
    workers: int
    worker_peak_rss_mb: float
    # Seconds each step took, in the order they ran, and the CPU seconds this process spent on
    # each (theirs included where the workers run in this one); the CPU seconds the worker
    # processes spent on the steps they ran, and the seconds those that finished a step first
    # waited for the last (`Workers.idle_seconds`).
    steps: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    worker_cpu_seconds: dict[str, float] = field(default_factory=dict)
    worker_idle_seconds: dict[str, float] = field(default_factory=dict)


class RebuildFailed(Exception):
    """The rebuild stopped, said for the operator, with whether the tables in use changed."""


def _failure(exc: Exception, swapped: bool) -> RebuildFailed:
    cause = f"{type(exc).__name__}: {exc}"
    if swapped:
        return RebuildFailed(
            f"de herbouw staat in de tabellen, maar het opnieuw publiceren van de feiten stopte"
            f" ({cause}): start de herbouw opnieuw"
        )
    return RebuildFailed(
        f"de herbouw is mislukt ({cause}); de tabellen in gebruik zijn niet gewijzigd:"
        " start de herbouw opnieuw"
    )


async def _lock_out_workers(conn: AsyncConnection) -> None:
    await lock_out_writers(conn, APPLY_LOCK, live.entities)


async def _continue_revisions(conn: AsyncConnection) -> set[tuple[str, str]]:
    """Every rebuilt fact gets a revision above whatever the live workers have published. The
    refold set each one above the live revision of its time, and the load each client record:
    only those moved on since differ. Gives the (source, id) of the client records changed here."""
    sh, lv = shadow.entities, live.entities
    wanted = func.coalesce(lv.c.revision, 0) + 1
    rows = await conn.execute(
        select(sh.c.entity_key, sh.c.fact, wanted)
        .select_from(sh.outerjoin(lv, lv.c.entity_key == sh.c.entity_key))
        .where(sh.c.revision != wanted)
    )
    changed = []
    for key, fact, revision in rows:
        value = orjson.loads(fact)
        value["revision"] = revision
        changed.append({"key": key, "revision": revision, "fact": orjson.dumps(value).decode()})
    if changed:
        sh = shadow.entities
        await conn.execute(
            update(sh)
            .where(sh.c.entity_key == bindparam("key"))
            .values(revision=bindparam("revision"), fact=bindparam("fact")),
            changed,
        )
    # A person's point facts are published with their ledger row's revision.
    she, lve = shadow.events, live.events
    bumped = await conn.execute(
        update(she)
        .where(
            she.c.source == lve.c.source,
            she.c.event_id == lve.c.event_id,
            she.c.type.in_(sorted(CLIENT_EVENT_TYPES)),
            she.c.revision <= lve.c.revision,
        )
        .values(revision=lve.c.revision + 1)
        .returning(she.c.source, she.c.event_id)
    )
    return {(row.source, row.event_id) for row in bumped}


async def _swap(conn: AsyncConnection) -> set[tuple[str, str]]:
    """Gives the (source, id) of the client records whose revision the swap moved on."""
    bumped = await _continue_revisions(conn)
    for live_table, shadow_table in zip(live.all, shadow.all, strict=True):
        await swap_in(conn, live_table, shadow_table)
    return bumped


async def rebuild(settings: CaseloadSettings, progress: Progress = lambda done, total: None) -> RebuildResult:
    with batch_collection():
        return await _rebuild(settings, progress)


async def _rebuild(settings: CaseloadSettings, progress: Progress) -> RebuildResult:
    engine = settings.database_engine("caseload")
    done = 0

    def report(records: int) -> None:
        nonlocal done
        done += records
        progress(done, max(done, total))

    steps: dict[str, float] = {}
    cpu: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started, spent = time.perf_counter(), time.process_time()
        yield
        steps[name] = time.perf_counter() - started
        cpu[name] = time.process_time() - spent

    coordinator = Replayer(settings, report)
    swapped = False
    try:
        tps = await coordinator.start()
        count = worker_count(settings, engine, len(tps))
        # The shadow set is emptied while the broker is asked where the topic ends and the live
        # point facts' revisions are read, once for every worker (see `Workers`).
        _, ends, revisions = await together(
            shadow_set.empty(engine), coordinator.ends(tps), client_revisions(engine)
        )
        total = sum(ends.values())
        workers = Workers(count, settings.log_level, report, {REVISIONS: revisions})
        del revisions  # the workers' memory holds it until their load
        async with workers:
            with step("load"):
                loaded = await workers.run(load, [(settings, tps[i::count], ends) for i in range(count)])
            with step("fold"):
                retractions = Retractions(r for part in loaded for r in part.retractions)
                # With one worker, every entity's events are in the one ledger: none strays.
                strays = find_strays([(part.keys, part.strays) for part in loaded]) if count > 1 else set()
                ledger = [shadow.events] if count > 1 else []

                async def complete_ledger() -> None:
                    # Each retraction marked on its target's row and keyed by the end of its
                    # chain. Then the strays are folded from the ledger, and it gets its index and
                    # statistics: complete, and only read from now on.
                    async with engine.begin() as conn:
                        repository = CaseloadRepository(conn, shadow)
                        await repository.mark_retracted(merge_marks(part.marks for part in loaded))
                        await repository.resolve_retraction_keys()
                    await together(fold_strays(settings, strays), shadow_set.finish(engine, 1, ledger))

                # Each entity folded once from all its events, not once per batch it appears in.
                # The workers fold what they loaded and read nothing of the ledger: with several
                # (PostgreSQL), it is completed meanwhile, on the database and this process, while
                # they fold; with one, where the database may take one writer at a time, first.
                folding = [(settings, retractions, strays)] * count
                if count > 1:
                    await together(workers.run(fold, folding), complete_ledger())
                else:
                    await complete_ledger()
                    await workers.run(fold, folding)
            with step("index"):
                await shadow_set.finish(engine, count, [t for t in shadow.all if t not in ledger])
            with step("swap"):
                caught: set[tuple[str, str]] = set()

                async def catch_up(batch: Sequence[Decoded]) -> None:
                    applied = await apply_events(conn, batch, shadow)
                    # The client records the catch-up changed differ from those the workers
                    # folded, also one restored by a retraction of its retraction.
                    caught.update((point.source, point.event_id) for point in applied.points)

                async with engine.begin() as conn:
                    await _lock_out_workers(conn)
                    # The ends first: once assigned, the consumer's fetches hold up other requests.
                    now = await coordinator.ends(tps)
                    # Every partition read on from where its worker stopped.
                    await coordinator.assign(
                        tps, {tp: at for part in loaded for tp, at in part.positions.items()}
                    )
                    await coordinator.replay_until(catch_up, now)
                    redo = caught | await _swap(conn)
            swapped = True
            with step("republish"):
                redo_ids = {record_id(*ident) for ident in redo}
                published, reread = await together(
                    workers.run(publish, [(settings, Share(i, count), redo_ids) for i in range(count)]),
                    republish_read(settings, redo, strays),
                )
    except RepublicationRefused:
        raise
    except Exception as exc:
        raise _failure(exc, swapped) from exc
    finally:
        await coordinator.stop()
        await engine.dispose()
    result = RebuildResult(
        records=coordinator.records + sum(part.records for part in loaded),
        skipped=coordinator.skipped + sum(part.skipped for part in loaded),
        entities=sum(entities for entities, _ in published),
        client_records=sum(clients for _, clients in published) + reread,
        workers=count,
        worker_peak_rss_mb=workers.peak_rss_mb,
        steps=steps,
        cpu_seconds=cpu,
        worker_cpu_seconds=workers.cpu_seconds,
        worker_idle_seconds=workers.idle_seconds,
    )
    log.info(
        "herbouw in gebruik genomen",
        extra={
            "records": result.records,
            "entities": result.entities,
            "client_records": result.client_records,
            "seconds": {name: round(seconds, 2) for name, seconds in steps.items()},
        },
    )
    return result
