"""Caseload's CPU per live transaction, in process, without a broker.

`--entities` benefits are started on a database of their own; then, for each batch size, rounds
of batches of that many events (each a member joining or leaving a different benefit, the live
path's common case) go through `apply_events` in a transaction of their own, as the worker does.
This process's CPU time (time.process_time, so less sensitive to the machine's load than wall
time) per transaction is printed for each size, with what the fixed part per transaction and the
part per event come to. `--profile PATH` writes a cProfile of the timed transactions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import secrets
import statistics
import time

import asyncpg

from bench.history_depth import benefit_events
from stroom_caseload.commands import migrate
from stroom_caseload.service import Folds, apply_events
from stroom_contract.events import Envelope
from stroom_contract.validation import EventValidator
from stroom_platform.dialect.engines import make_engine
from stroom_platform.organisations import load_organisations

SERVER = "postgresql://postgres@127.0.0.1:5432"


async def measure(entities: int, sizes: list[int], rounds: int, profile: str | None) -> None:
    name = f"bench_txn_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    # As the worker applies: no check before each transaction (see the caseload runtime).
    engine = make_engine(url, pool_pre_ping=False)
    profiler = cProfile.Profile(time.process_time) if profile else None
    try:
        await migrate(url)
        validator = EventValidator(None, load_organisations().municipality_codes)
        source = f"urn:stroom:bench:txn-{name}"
        benefits = [f"B{index:04d}" for index in range(entities)]
        folds = Folds()
        step = 0

        def events(batch: list[str]) -> list[Envelope]:
            return [validator.validate(next(benefit_events(source, b, step, 1))) for b in batch]

        async def transaction(batch: list[Envelope]) -> None:
            async with engine.begin() as conn:
                applied = await apply_events(conn, batch, folds=folds)
            folds.keep(applied.folded)

        for start in range(0, entities, 100):
            await transaction(events(benefits[start : start + 100]))
        print(f"load average {os.getloadavg()[0]:.1f} before; {entities} benefits, {rounds} rounds")
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
            print(f"{size:>4} events a transaction: {per_size[size] * 1e3:7.2f} ms CPU a transaction")
        small, large = min(sizes), max(sizes)
        if large > small:
            event = (per_size[large] - per_size[small]) / (large - small)
            fixed = per_size[small] - small * event
            print(f"fixed {fixed * 1e3:.2f} ms a transaction, {event * 1e6:.0f} us an event")
        print(f"load average {os.getloadavg()[0]:.1f} after")
        if profiler and profile:
            profiler.dump_stats(profile)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=400)
    parser.add_argument("--sizes", default="1,10,100", help="events a transaction, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the timed transactions here")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    asyncio.run(measure(arguments.entities, sizes, arguments.rounds, arguments.profile))


if __name__ == "__main__":
    main()
