"""Facts load rate and monthly report latency (PostgreSQL), against decode-only and DuckDB.

`.venv/bin/python -m bench.reporting [--events 1000000 | --sizes 100000,1000000,5000000]
[--kpi-benefits 10000]`: first the dashboard's KPI panel (report 8, organisation, one year) on a
WerkSaam-sized caseload with its client records. Then benefits of about 1.7 events each
(started, and ended for most) become facts as the caseload service publishes them live: one per
event, the entity's whole history with the next revision. They are loaded the way the consumer
does it (JSON decode, then one transaction per batch of `--batch`), beside decoding alone as the
baseline. Then report 1 is timed over HTTP (the app in process) for one municipality over a year
and for the whole organisation over five years, beside DuckDB computing the same organisation
table from an NDJSON file of the raw benefit events, and the KPI sheet (organisation, one year).
With --sizes each size gets a database of its own and a line in a scaling table at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
import httpx

from bench.credentials import reader
from stroom_contract.codes import ClientStream, Decision, InflowReason, OutflowReason, Regulation, Role
from stroom_contract.facts import (
    ApplicationHistory,
    ApplicationState,
    ApplicationVersion,
    Assessment,
    BenefitHistory,
    BenefitState,
    BenefitVersion,
    ClientRecord,
    Fact,
    MemberSpell,
    PlanSent,
    ProgressReport,
)
from stroom_platform.db import make_engine
from stroom_platform.organisations import load_organisations
from stroom_reporting.app import create_app
from stroom_reporting.commands import migrate
from stroom_reporting.consumer import FACT_ADAPTER
from stroom_reporting.repository import apply_facts
from stroom_reporting.settings import ReportingSettings
from stroom_simulator.bsns import pseudonym

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ORG = "werksaam-westfriesland"


def generate(
    n: int, rng: random.Random, offset: int = 0
) -> tuple[list[BenefitHistory], list[dict[str, object]]]:
    municipalities = [m.code for m in load_organisations().organisation(ORG).municipalities]  # type: ignore[union-attr]
    histories, events = [], []
    for i in range(offset, offset + n):
        start = date(2019, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        end = start + timedelta(days=rng.randrange(30, 1500)) if rng.random() < 0.7 else None
        municipality, regulation = rng.choice(municipalities), rng.choice(list(Regulation))
        member = MemberSpell(
            client_ref=pseudonym(f"c{i}"), role=Role.APPLICANT, birth_date=date(1980, 1, 1), joined_on=start
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


def kpi_client(
    rng: random.Random, client: str, municipality: str, start: date, end: date | None
) -> list[Fact]:
    """An applicant's application, plan, yearly assessments and (mediable) quarterly progress reports."""
    t0 = datetime(2020, 1, 1, tzinfo=UTC)

    def record(record_id: str, fact: Assessment | ProgressReport | PlanSent) -> ClientRecord:
        return ClientRecord(
            entity=f"client:{client}",
            record_id=record_id,
            client_ref=client,
            revision=1,
            recorded_at=t0,
            fact=fact,
        )

    received = start - timedelta(days=rng.randrange(10, 40))
    application = ApplicationState(
        client_ref=client,
        municipality=municipality,
        regulation=Regulation.PW,
        received_on=received,
        decision=Decision.GRANTED,
        decided_on=start,
    )
    facts: list[Fact] = [
        ApplicationHistory(
            entity=f"application:kpi:a-{client}",
            revision=1,
            versions=[ApplicationVersion(recorded_from=t0, state=application)],
        ),
        record(
            f"kpi|plan-{client}",
            PlanSent(
                plan_ref=client,
                sent_on=start + timedelta(days=rng.randrange(20, 90)),
                application_ref=f"a-{client}",
            ),
        ),
    ]
    until = min(end or date(2025, 1, 1), date(2025, 1, 1))
    day, n = start, 0
    while day < until:
        stream = rng.choices(list(ClientStream), (60, 25, 15))[0]
        facts.append(
            record(
                f"kpi|as-{client}-{n}",
                Assessment(
                    assessed_on=day,
                    ladder_step=rng.randrange(1, 6),
                    client_stream=stream,
                    work_obligation_exempt=rng.random() < 0.1,
                ),
            )
        )
        if stream == ClientStream.MEDIABLE:
            for k in range(4):
                on = day + timedelta(days=30 + 91 * k + rng.randrange(-20, 40))
                if on < until:
                    facts.append(
                        record(
                            f"kpi|pr-{client}-{n}-{k}",
                            ProgressReport(recorded_on=on, long_trajectory=rng.random() < 0.1),
                        )
                    )
        day += timedelta(days=365)
        n += 1
    return facts


def kpi_history(rng: random.Random, benefits: int) -> list[Fact]:
    """A WerkSaam-sized caseload (about 3,000 benefits running) over 2020-2024 with the client
    records the KPIs read: a stock from before 2020 and a steady inflow since."""
    municipalities = [m.code for m in load_organisations().organisation(ORG).municipalities]  # type: ignore[union-attr]
    facts: list[Fact] = []
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(benefits):
        if i < benefits // 4:
            start = date(2014, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        else:
            start = date(2020, 1, 1) + timedelta(days=rng.randrange(5 * 365))
        end = start + timedelta(days=int(rng.expovariate(1 / 700)) + 20)
        end_date = end if end < date(2025, 1, 1) else None
        municipality = rng.choice(municipalities)
        client = pseudonym(f"k{i}")
        members = [
            MemberSpell(
                client_ref=client,
                role=Role.APPLICANT,
                birth_date=date(1960, 1, 1) + timedelta(days=rng.randrange(16000)),
                joined_on=start,
            )
        ]
        if rng.random() < 0.3:
            members.append(
                MemberSpell(
                    client_ref=pseudonym(f"k{i}p"),
                    role=Role.PARTNER,
                    birth_date=date(1970, 1, 1),
                    joined_on=start,
                )
            )
        state = BenefitState(
            municipality=municipality,
            regulation=rng.choices(list(Regulation), (85, 8, 2, 5))[0],
            start_date=start,
            end_date=end_date,
            inflow_reason=rng.choice(list(InflowReason)),
            outflow_reason=rng.choice(list(OutflowReason)) if end_date else None,
            members=members,
        )
        facts.append(
            BenefitHistory(
                entity=f"benefit:kpi:b{i}",
                revision=1,
                versions=[BenefitVersion(recorded_from=t0, state=state)],
            )
        )
        facts.extend(kpi_client(rng, client, municipality, start, end_date))
    return facts


async def time_kpis(benefits: int, runs: int) -> tuple[int, int, list[float]]:
    """The dashboard's KPI panel (organisation, 2024) on a WerkSaam-sized database of its own:
    (benefits running at the end of 2024, facts loaded, milliseconds per request)."""
    name = f"stroom_bench_kpi_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await migrate(url)
        facts = kpi_history(random.Random(5), benefits)
        engine = make_engine(url)
        for start in range(0, len(facts), 2000):
            async with engine.begin() as conn:
                await apply_facts(conn, facts[start : start + 2000], datetime.now(UTC))
        await engine.dispose()
        # Planner statistics, as autovacuum gathers them within a minute of a load this size.
        stats = await asyncpg.connect(url.replace("+asyncpg", ""))
        await stats.execute("ANALYZE")
        await stats.close()
        running = sum(
            1
            for f in facts
            if isinstance(f, BenefitHistory) and f.versions[0].state and f.versions[0].state.end_date is None
        )
        settings = ReportingSettings(DATABASE_URL=url, consume=False, data_dir=Path(tempfile.mkdtemp()))
        app = create_app(settings)
        times = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = reader(settings.data_dir)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                query = {"organisation": ORG, "from": "2024-01", "to": "2024-12"}
                for _ in range(runs + 1):
                    t = time.perf_counter()
                    response = await client.get("/v1/reports/kpis", params=query)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.text
        return running, len(facts), times[1:]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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


def live_facts(histories: list[BenefitHistory]) -> list[bytes]:
    """One fact per event as caseload publishes it live (history so far, next revision), by time."""
    facts = [
        (h.versions[k - 1].recorded_from, h.model_copy(update={"revision": k, "versions": h.versions[:k]}))
        for h in histories
        for k in range(1, len(h.versions) + 1)
    ]
    facts.sort(key=lambda f: f[0])
    return [f.model_dump_json().encode() for _, f in facts]


async def load(url: str, events: int, chunk: int, batch: int, ndjson: Path) -> tuple[float, float, int]:
    """Generate `chunk` benefits at a time, load their facts in consumer batches; returns the seconds
    spent loading, the seconds decoding alone takes, and the events generated."""
    rng = random.Random(1)
    engine = make_engine(url)
    # As the service does after start-up (app lifespan): long-lived objects out of the collector.
    gc.freeze()
    loading = decoding = 0.0
    generated = index = 0
    with ndjson.open("w") as out:
        while generated < events:
            # About 1.7 events a benefit: small sizes are not rounded up to a whole chunk.
            benefits = min(chunk, (events - generated) * 10 // 17 + 1)
            histories, raw = generate(benefits, rng, index)
            index += benefits
            generated += len(raw)
            out.write("".join(json.dumps(e) + "\n" for e in raw))
            values = live_facts(histories)
            del histories
            t = time.perf_counter()
            for start in range(0, len(values), batch):
                [FACT_ADAPTER.validate_json(v) for v in values[start : start + batch]]
            decoding += time.perf_counter() - t
            t = time.perf_counter()
            for start in range(0, len(values), batch):
                facts = [FACT_ADAPTER.validate_json(v) for v in values[start : start + batch]]
                async with engine.begin() as conn:
                    await apply_facts(conn, facts, datetime.now(UTC))
            loading += time.perf_counter() - t
            print(f"  {generated:,} events loaded, {generated / loading:,.0f} events/s", end="\r", flush=True)
    print()
    await engine.dispose()
    return loading, decoding, generated


async def time_reports(url: str, runs: int) -> dict[str, list[float]]:
    """Report latency over HTTP against the app in this process (JSON rendered, consumer off)."""
    organisations = load_organisations()
    org = organisations.organisation(ORG)
    assert org is not None
    cases = {
        "one municipality, one year": {"municipality": "GM0405", "from": "2024-01", "to": "2024-12"},
        "organisation, five years": {"organisation": ORG, "from": "2020-01", "to": "2024-12"},
    }
    settings = ReportingSettings(DATABASE_URL=url, consume=False, data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    samples: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = reader(settings.data_dir)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for label, params in cases.items():
                query = {**params, "unit": "benefits"}
                await client.get("/v1/reports/monthly", params=query)  # warm the connection pool
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    response = await client.get("/v1/reports/monthly", params=query)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200
                samples[label] = times
            kpi = {"organisation": ORG, "from": "2024-01", "to": "2024-12"}
            times = []
            for _ in range(3):
                t = time.perf_counter()
                assert (await client.get("/v1/reports/kpis", params=kpi)).status_code == 200
                times.append((time.perf_counter() - t) * 1000)
            samples["KPIs, organisation, one year"] = times
    return samples


async def one_size(events: int, chunk: int, batch: int, runs: int) -> dict[str, float]:
    """Load `events` into a database of their own and time the reports; the figures printed."""
    name = f"stroom_bench_{os.getpid()}_{events}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await migrate(url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.ndjson"
            loading, decoding, generated = await load(url, events, chunk, batch, path)
            print(
                f"load: {generated:,} events in {loading:.1f} s, {generated / loading:,.0f} events/s "
                f"({loading / generated * 1e6:.0f} µs per event); decoding alone (baseline) "
                f"{generated / decoding:,.0f} events/s; ratio {decoding / loading:.2f}"
            )
            gc.collect()
            samples = await time_reports(url, runs)
            for label, times in samples.items():
                print(f"{label}: p50 {statistics.median(times):.1f} ms, p99 {percentile(times, 0.99):.1f} ms")
            t = time.perf_counter()
            duckdb.connect().execute(DUCKDB_SQL, [str(path)]).fetchall()
            duck_ms = (time.perf_counter() - t) * 1000
        organisation = samples["organisation, five years"]
        print(
            f"DuckDB from raw NDJSON, organisation five years: {duck_ms:.0f} ms "
            f"(ratio against the organisation p50 above: {duck_ms / statistics.median(organisation):.0f}x)"
        )
        kpis = samples["KPIs, organisation, one year"]
        return {
            "events": generated,
            "events_per_s": generated / loading,
            "us_per_event": loading / generated * 1e6,
            "load_ratio": decoding / loading,
            "monthly_p50": statistics.median(organisation),
            "monthly_p99": percentile(organisation, 0.99),
            "kpi_p50": statistics.median(kpis),
            "kpi_p99": percentile(kpis, 0.99),
            "duckdb_ms": duck_ms,
        }
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(sizes: list[int], chunk: int, batch: int, runs: int, kpi_benefits: int) -> None:
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if kpi_benefits:
        running, loaded, times = await time_kpis(kpi_benefits, 20)
        print(
            f"KPI panel, WerkSaam 2024 ({kpi_benefits:,} benefits since 2014, {running:,} running, "
            f"{loaded:,} facts): p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
        )
    results = []
    for events in sizes:
        print(f"-- {events:,} events")
        results.append(await one_size(events, chunk, batch, runs))
    if len(results) > 1:
        print("scaling (organisation: monthly report five years, KPI sheet one year; DuckDB monthly):")
        print("events | events/s | µs/event | load/decode | monthly p50/p99 ms | KPI p50/p99 ms | DuckDB ms")
        for r in results:
            print(
                f"{r['events']:,.0f} | {r['events_per_s']:,.0f} | {r['us_per_event']:.0f} | "
                f"{r['load_ratio']:.2f} | {r['monthly_p50']:.1f}/{r['monthly_p99']:.1f} | "
                f"{r['kpi_p50']:.0f}/{r['kpi_p99']:.0f} | {r['duckdb_ms']:.0f}"
            )
        costs = [r["us_per_event"] for r in results]
        print(f"per-event cost, largest against smallest size: {costs[-1] / costs[0]:.2f} (aim within 1.20)")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="one size (see --sizes)")
    parser.add_argument("--sizes", help="several sizes, comma-separated (100000,1000000,5000000)")
    parser.add_argument("--chunk", type=int, default=20_000, help="benefits generated at a time")
    parser.add_argument("--batch", type=int, default=2000, help="facts per transaction (consumer)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kpi-benefits", type=int, default=10_000, help="KPI panel scenario; 0 skips it")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.events]
    asyncio.run(main([size for size in sizes if size], args.chunk, args.batch, args.runs, args.kpi_benefits))
