"""Caseload's CPU per live transaction, in process, without a broker.

`--entities` benefits are started on a database of their own; then, for each batch size, rounds
of batches of that many events (each a member joining or leaving a different benefit, the live
path's common case) go through `apply_events` in a transaction of their own, as the worker does.
This process's CPU time (time.process_time, so less sensitive to the machine's load than wall
time) per transaction is printed for each size, with what the fixed part per transaction and the
part per event come to. `--profile PATH` writes a cProfile of the timed transactions.

`--simulated N` measures the freshness bench's load instead: N simulated events of an
organisation new to the database (most of them persons' point facts and entities' first events),
encoded as intake publishes them, then decoded and validated as the worker does and applied in
transactions of each size in turn; it prints the CPU an event of decoding, of applying, and of the
transaction's PostgreSQL backend.

The collector is set as in the worker (`tune_for_batches`): with Python's defaults it cost a
third of the apply CPU measured here, which the worker does not spend.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import secrets
import statistics
import time
from datetime import date

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.history_depth import benefit_events, cpu_seconds
from bench.postgres import engine_url, server_dsn
from stroom_caseload.commands import migrate
from stroom_caseload.domain.events import Decoded
from stroom_caseload.service import EventBatch, Folds, apply_events, apply_transaction
from stroom_caseload.settings import CaseloadSettings
from stroom_contract.bsn import Pseudonymiser
from stroom_contract.events import Envelope
from stroom_contract.kafka_binding import decode_wire, encode
from stroom_contract.keys import entity_key
from stroom_contract.validation import EventValidator
from stroom_platform.dialect import LockingTransactions
from stroom_platform.dialect.engines import make_engine
from stroom_platform.memory import tune_for_batches
from stroom_platform.organisations import load_organisations
from stroom_simulator.history import simulate_history

# The freshness bench's pseudonymisation key: the simulated persons get the same client_refs.
KEY = b"bench-pseudonym-key-0123456789abcdef"


async def measure(entities: int, sizes: list[int], rounds: int, profile: str | None, simulated: int) -> None:
    name = f"bench_txn_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = engine_url(name)
    # As the worker applies: no check before each transaction (see the caseload runtime).
    engine = make_engine(url, pool_pre_ping=False)
    profiler = cProfile.Profile(time.process_time) if profile else None
    try:
        await migrate(url)
        tune_for_batches()
        if simulated:
            await simulated_load(engine, simulated, sizes, profiler)
            if profiler and profile:
                profiler.dump_stats(profile)
            return
        validator = EventValidator(None, load_organisations().municipality_codes)
        source = f"urn:stroom:bench:txn-{name}"
        benefits = [f"B{index:04d}" for index in range(entities)]
        folds = Folds(CaseloadSettings().folded_entities)
        transactions = LockingTransactions(engine)
        step = 0

        def events(batch: list[str]) -> list[Envelope]:
            return [validator.validate(next(benefit_events(source, b, step, 1))) for b in batch]

        async def transaction(batch: list[Envelope]) -> None:
            given = EventBatch.of(batch)
            async with apply_transaction(transactions, given) as conn:
                applied = await apply_events(conn, given, folds=folds, locked=True)
            folds.keep(applied.folded)

        for start in range(0, entities, 100):
            await transaction(events(benefits[start : start + 100]))
        print(
            f"belastingsgemiddelde {os.getloadavg()[0]:.1f} vooraf; {entities} uitkeringen, {rounds} rondes"
        )
        per_size: dict[int, float] = {}
        for size in sizes:
            spent: list[float] = []
            for _ in range(rounds):
                step += 1
                batches = [events(benefits[i : i + size]) for i in range(0, entities - entities % size, size)]
                before = time.process_time()
                if profiler:
                    profiler.enable()
                for batch in batches:
                    await transaction(batch)
                if profiler:
                    profiler.disable()
                spent.append((time.process_time() - before) / len(batches))
            per_size[size] = statistics.median(spent)
            print(f"{size:>4} events per transactie: {per_size[size] * 1e3:7.2f} ms CPU per transactie")
        small, large = min(sizes), max(sizes)
        if large > small:
            event = (per_size[large] - per_size[small]) / (large - small)
            fixed = per_size[small] - small * event
            print(f"vast {fixed * 1e3:.2f} ms per transactie, {event * 1e6:.0f} us per event")
        print(f"belastingsgemiddelde {os.getloadavg()[0]:.1f} achteraf")
        if profiler and profile:
            profiler.dump_stats(profile)
        await transactions.close()
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def simulated_load(
    engine: AsyncEngine, count: int, sizes: list[int], profiler: cProfile.Profile | None
) -> None:
    """`count` events of the freshness bench's load, a share of them through transactions of each
    size in turn; the first transactions of each size are not counted (the organisation's
    first entities)."""
    organisations = load_organisations()
    organisation = organisations.organisation("bar")
    assert organisation is not None
    publishing = EventValidator(Pseudonymiser(KEY), organisations.municipality_codes)
    records: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    history = simulate_history(organisation, years=5, seed=99, start=date(2020, 1, 1), noise=False, scale=2.0)
    for raw in history:
        if len(records) >= count:
            break
        envelope = publishing.validate(raw)
        if entity_key(envelope) is not None:
            records.append(encode(envelope))
    # No pseudonymiser: as the worker, which refuses a raw BSN.
    validator = EventValidator(None, organisations.municipality_codes)
    folds = Folds(CaseloadSettings().folded_entities)
    # As the worker: one transaction after the other, on the connection they keep.
    transactions = LockingTransactions(engine)
    async with transactions.transaction([]) as conn:
        backend = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    print(f"belastingsgemiddelde {os.getloadavg()[0]:.1f} vooraf; {len(records):,} gesimuleerde events")
    share = len(records) // len(sizes)
    for n, size in enumerate(sizes):
        batches = [records[i : i + size] for i in range(n * share, (n + 1) * share, size)]
        warm = len(batches) // 5
        decoding = applying = database = 0.0
        events = 0
        for number, batch in enumerate(batches):
            counted = number >= warm
            if counted and profiler:
                profiler.enable()
            before = time.process_time()
            decoded = []
            for value, headers in batch:
                wire = decode_wire(value, headers)
                decoded.append(Decoded(validator.validate(wire), wire, 0))
            middle = time.process_time()
            backend_before = cpu_seconds(backend)
            given = EventBatch.of(decoded)
            async with apply_transaction(transactions, given) as conn:
                applied = await apply_events(conn, given, folds=folds, locked=True)
            folds.keep(applied.folded)
            after = time.process_time()
            if profiler:
                profiler.disable()
            if counted:
                decoding += middle - before
                applying += after - middle
                database += cpu_seconds(backend) - backend_before
                events += len(batch)
        print(
            f"{size:>5} events per transactie: decoderen {decoding / events * 1e6:5.1f} us, verwerken"
            f" {applying / events * 1e6:5.1f} us CPU per event; PostgreSQL {database / events * 1e6:5.1f} us"
        )
    await transactions.close()
    print(f"belastingsgemiddelde {os.getloadavg()[0]:.1f} achteraf")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.transaction_cost",
        description="CPU per live transactie van caseload, in dit proces en zonder broker, per "
        "aantal events per transactie.",
    )
    parser.add_argument("--entities", type=int, default=400, help="uitkeringen in de database")
    parser.add_argument("--sizes", default="1,10,100", help="events per transactie, gescheiden door komma's")
    parser.add_argument("--rounds", type=int, default=3, help="rondes per aantal")
    parser.add_argument("--profile", help="schrijf hier een cProfile van de getimede transacties")
    parser.add_argument(
        "--simulated", type=int, default=0, help="in plaats daarvan zoveel events van de versheidsbench"
    )
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    asyncio.run(measure(arguments.entities, sizes, arguments.rounds, arguments.profile, arguments.simulated))


if __name__ == "__main__":
    main()
