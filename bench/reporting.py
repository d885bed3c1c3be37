"""Monthly report latency from the read models (PostgreSQL) against DuckDB over raw events.

`.venv/bin/python -m bench.reporting [--benefits N]`: loads N benefit histories as facts (about
3.3 events each: started, members_changed for some, ended for most), then times report 1 for
one municipality over a year and for the whole organisation over five years, beside DuckDB
computing the same organisation table from an NDJSON file of the raw benefit events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import duckdb

from stroom_contract.codes import InflowReason, OutflowReason, Regulation, Role
from stroom_contract.facts import BenefitHistory, BenefitState, BenefitVersion, MemberSpell
from stroom_platform.db import make_engine
from stroom_platform.organisations import load_organisations
from stroom_reporting import reports
from stroom_reporting.projection import apply_facts
from stroom_reporting.storage import migrate

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ORG = "werksaam-westfriesland"


def generate(n: int, rng: random.Random) -> tuple[list[BenefitHistory], list[dict[str, object]]]:
    municipalities = [m.code for m in load_organisations().organisation(ORG).municipalities]  # type: ignore[union-attr]
    histories, events = [], []
    for i in range(n):
        start = date(2019, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        end = start + timedelta(days=rng.randrange(30, 1500)) if rng.random() < 0.7 else None
        municipality, regulation = rng.choice(municipalities), rng.choice(list(Regulation))
        member = MemberSpell(
            client_ref=f"c{i}", role=Role.APPLICANT, birth_date=date(1980, 1, 1), joined_on=start
        )
        state = BenefitState(
            municipality=municipality,
            regulation=regulation,
            start_date=start,
            end_date=end,
            inflow_reason=InflowReason.OTHER,
            outflow_reason=OutflowReason.OTHER if end else None,
            members=[member],
        )
        t0 = datetime.combine(start, datetime.min.time(), UTC)
        versions = [
            BenefitVersion(
                recorded_from=t0, state=state.model_copy(update={"end_date": None, "outflow_reason": None})
            )
        ]
        ref = f"b{i}"
        events.append(
            {
                "type": "stroom.benefit.started.v1",
                "time": t0.isoformat(),
                "data": {
                    "benefit_ref": ref,
                    "municipality": municipality,
                    "regulation": regulation.value,
                    "start_date": start.isoformat(),
                },
            }
        )
        if end:
            t1 = datetime.combine(end, datetime.min.time(), UTC)
            versions.append(BenefitVersion(recorded_from=t1, state=state))
            events.append(
                {
                    "type": "stroom.benefit.ended.v1",
                    "time": t1.isoformat(),
                    "data": {"benefit_ref": ref, "end_date": end.isoformat()},
                }
            )
        histories.append(
            BenefitHistory(entity=f"benefit:bench:{ref}", revision=len(versions), versions=versions)
        )
    return histories, events


DUCKDB_SQL = """
WITH ev AS (SELECT type, data FROM read_json_auto(?, format='newline_delimited')),
started AS (SELECT data.benefit_ref AS ref, data.municipality AS m, data.regulation AS r,
                   CAST(data.start_date AS DATE) AS s FROM ev WHERE type = 'stroom.benefit.started.v1'),
ended AS (SELECT data.benefit_ref AS ref, CAST(data.end_date AS DATE) AS e FROM ev
          WHERE type = 'stroom.benefit.ended.v1'),
b AS (SELECT m, r, s, e FROM started LEFT JOIN ended USING (ref)),
f AS (SELECT m, r, date_trunc('month', s) AS mo, 1 AS i, 0 AS o FROM b
      UNION ALL SELECT m, r, date_trunc('month', e), 0, 1 FROM b WHERE e IS NOT NULL),
g AS (SELECT m, r, mo, sum(i) AS inflow, sum(o) AS outflow FROM f GROUP BY ALL)
SELECT m, r, mo, inflow, outflow,
       sum(inflow - outflow) OVER (PARTITION BY m, r ORDER BY mo) AS stock
FROM g WHERE mo BETWEEN DATE '2020-01-01' AND DATE '2024-12-01' ORDER BY m, r, mo
"""


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def main(benefits: int, runs: int) -> None:
    rng = random.Random(1)
    histories, events = generate(benefits, rng)
    print(f"{len(histories)} benefit histories, {len(events)} raw benefit events")
    name = f"stroom_bench_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await migrate(url)
        engine = make_engine(url)
        started = time.perf_counter()
        for i in range(0, len(histories), 5000):
            async with engine.begin() as conn:
                await apply_facts(conn, histories[i : i + 5000], datetime.now(UTC))
        load = time.perf_counter() - started
        print(f"load: {load:.1f} s, {len(events) / load:,.0f} events/s")
        organisations = load_organisations()
        org = organisations.organisation(ORG)
        assert org is not None
        names = organisations.municipality_names
        cases = {
            "one municipality, one year": (reports.Scope(org, ["GM0405"], names), 202401, 202412),
            "organisation, five years": (
                reports.Scope(org, [m.code for m in org.municipalities], names),
                202001,
                202412,
            ),
        }
        for label, (scope, first, last) in cases.items():
            samples = []
            async with engine.connect() as conn:
                for _ in range(runs):
                    t = time.perf_counter()
                    await reports.monthly(conn, scope, reports.REGULATIONS, ("benefits",), first, last, None)
                    samples.append((time.perf_counter() - t) * 1000)
            print(f"{label}: p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms")
        await engine.dispose()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.ndjson"
            path.write_text("\n".join(json.dumps(e) for e in events))
            t = time.perf_counter()
            duckdb.connect().execute(DUCKDB_SQL, [str(path)]).fetchall()
            duck_ms = (time.perf_counter() - t) * 1000
        print(
            f"DuckDB from raw NDJSON, organisation five years: {duck_ms:.0f} ms "
            f"(ratio against the organisation p50 above: {duck_ms / statistics.median(samples):.0f}x)"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benefits", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.benefits, args.runs))
