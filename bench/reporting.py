"""Facts load rate, report latency and how both scale, against decoding alone and DuckDB.

`.venv/bin/python -m bench.reporting [--events 1000000 | --sizes 100000,1000000,5000000]
[--kpi-benefits 6000] [--budget-minutes 60] [--panel-only]`: first the dashboard's KPI panel
(report 8, organisation, one year) on a WerkSaam-sized caseload, kept and computed; `--panel-only`
stops there. Then per size a simulated history of about
ten events a benefit (application received and decided, benefit started and, for most, ended,
plan naar werk, yearly assessments, progress reports of mediable clients; a fifth of those who
leave come back) becomes facts as the caseload service publishes them live: one per event. They
are loaded the way the consumer does it (JSON decode, then one transaction per batch of
`--batch`), beside decoding alone as the baseline. Then the monthly report is timed over HTTP for
one municipality over a year and for the organisation over five years, and
the KPI sheet for the organisation over 2024; DuckDB computes the same organisation table and the
same KPI sheet (both years) from the NDJSON file of the raw events in the same run, and the
sheet's values are compared with DuckDB's. Reports are timed as served (a repeated request gets
the answer kept while no load changed the read models) and computed each time (none kept: what
the first request after every load costs).

What is timed: the reporting service as production runs it, `stroom serve reporting` (uvicorn,
the consumer off) in a process of its own, asked over one keep-alive loopback connection by a
client that sends a request built beforehand and receives the answer straight into a buffer;
from writing the request until the answer's last byte is in. Every answer must be 200 and equal
to the first. Beside each latency the CPU a request cost the server's process and its PostgreSQL
backends: on a shared machine the figure to compare two versions by. A client in the bench's own
process (httpx over the app's ASGI interface) would put its CPU, about as much as a kept answer's
own, inside every timed request, and leave uvicorn's and the socket's out.

Sizes grow the caseload over the same years, so a
report's period holds more the larger the size. Each size gets a database of its own; with
several, a scaling table and the flatness against the smallest size close the run. A size that
would not fit the machine's memory or disk, or the time budget, is refused with the reason.
The flatness compares each larger size's reports with the smallest size's timed in turn, pair by
pair (the smallest size's database is kept until the end): timed minutes apart, two sizes' p50s
of a kept answer differ on a shared machine by more than their histories make them differ.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import asyncpg
import duckdb
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import duckdb_reference
from bench.credentials import embedded_environment, reader
from bench.history_depth import cpu_seconds
from bench.postgres import DatabaseCpu
from stroom_contract.codes import ClientStream, Decision, InflowReason, OutflowReason, Regulation, Role
from stroom_contract.facts import (
    ApplicationChange,
    ApplicationState,
    ApplicationVersion,
    Assessment,
    BenefitChange,
    BenefitState,
    BenefitVersion,
    ClientRecord,
    Fact,
    MemberSpell,
    PlanSent,
    ProgressReport,
)
from stroom_contract.rows import RowVersion, entity_rows, row_change
from stroom_platform.broker import free_port
from stroom_platform.db import make_engine
from stroom_platform.memory import batch_collection
from stroom_platform.organisations import load_organisations
from stroom_reporting.commands import migrate
from stroom_reporting.consumer import FACT_ADAPTER, KpiRestates
from stroom_reporting.domain import kpis
from stroom_reporting.domain.kpis import WORK_OR_EDUCATION
from stroom_reporting.domain.months import month_range
from stroom_reporting.repository import apply_facts, reclaim_pending, restate_kpis_apart
from stroom_reporting.settings import ReportingSettings
from stroom_simulator.bsns import pseudonym

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ORG = "werksaam-westfriesland"


OUTFLOWS = (
    [OutflowReason.EMPLOYMENT] * 6
    + [OutflowReason.SELF_EMPLOYMENT, OutflowReason.EDUCATION_WITH_STUDENT_FINANCE]
    + [r for r in OutflowReason if r.value not in WORK_OR_EDUCATION]
)


def event(kind: str, key: str, at: date, data: dict[str, object]) -> dict[str, object]:
    """A raw event as it stands pseudonymised on the events topic (what DuckDB reads)."""
    return {"id": key, "type": f"stroom.{kind}.v1", "time": f"{at.isoformat()}T00:00:00+00:00", "data": data}


def changes(
    model: type[BenefitChange] | type[ApplicationChange], entity: str, versions: list[Any]
) -> list[tuple[datetime, Fact]]:
    """What caseload publishes as each version of an entity arrives: its rows in full, then each
    time the rows that changed on top of the revision before."""
    published: list[tuple[datetime, Fact]] = []
    before: list[RowVersion] | None = None
    kind = model.model_fields["kind"].default
    for k in range(1, len(versions) + 1):
        rows = entity_rows(kind, entity, [(v.recorded_from, v.state) for v in versions[:k]])
        if before is None:
            change = model(entity=entity, revision=k, rows=rows)
        else:
            put, removed = row_change(before, rows)
            change = model(entity=entity, revision=k, base=k - 1, rows=put, removed=removed)
        published.append((versions[k - 1].recorded_from, change))
        before = rows
    return published


def generate(
    n: int, rng: random.Random, offset: int = 0
) -> tuple[list[tuple[datetime, Fact]], list[dict[str, object]]]:
    """`n` benefits from `offset` on and their clients' records: per benefit its application
    (received, decided), start and (for most) end, the plan naar werk, a yearly assessment and, for
    mediable clients, progress reports; a fifth of the clients that leave come back within a
    year. Returns each event's fact as caseload publishes it live (with the time it is recorded)
    and the raw events."""
    municipalities = [m.code for m in load_organisations().organisation(ORG).municipalities]  # type: ignore[union-attr]
    facts: list[tuple[datetime, Fact]] = []
    events: list[dict[str, object]] = []
    index, client, start = offset, "", date(2019, 1, 1)
    municipality, born = "", date(1980, 1, 1)
    while index < offset + n:
        if not client:
            client = pseudonym(f"c{index}")
            municipality = rng.choice(municipalities)
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))
            start = date(2019, 1, 1) + timedelta(days=rng.randrange(6 * 365))
        end = start + timedelta(days=rng.randrange(30, 1500)) if rng.random() < 0.7 else None
        facts_, events_ = benefit_history(rng, f"b{index}", client, municipality, born, start, end)
        facts.extend(facts_)
        events.extend(events_)
        index += 1
        if end is not None and rng.random() < 0.2:
            start = end + timedelta(days=rng.randrange(1, 365))
        else:
            client = ""
    return facts, events


def benefit_history(
    rng: random.Random, ref: str, client: str, municipality: str, born: date, start: date, end: date | None
) -> tuple[list[tuple[datetime, Fact]], list[dict[str, object]]]:
    """One benefit with its application and its client's records while it runs (see `generate`)."""
    regulation = rng.choices(list(Regulation), (85, 8, 2, 5))[0]
    inflow, outflow = rng.choice(list(InflowReason)), rng.choice(OUTFLOWS) if end else None
    member = MemberSpell(client_ref=client, role=Role.APPLICANT, birth_date=born, joined_on=start)
    state = BenefitState(
        municipality=municipality,
        regulation=regulation,
        start_date=start,
        end_date=end,
        inflow_reason=inflow,
        outflow_reason=outflow,
        members=[member],
    )
    facts: list[tuple[datetime, Fact]] = []
    events = []

    def at(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), UTC)

    def record(key: str, day: date, fact: Assessment | ProgressReport | PlanSent) -> None:
        facts.append(
            (
                at(day),
                ClientRecord(
                    entity=f"client:{client}",
                    record_id=f"bench|{key}",
                    client_ref=client,
                    revision=1,
                    recorded_at=at(day),
                    fact=fact,
                ),
            )
        )

    received = start - timedelta(days=rng.randrange(10, 40))
    application = ApplicationState(
        client_ref=client, municipality=municipality, regulation=regulation, received_on=received
    )
    versions = [ApplicationVersion(recorded_from=at(received), state=application)]
    decided = replace(application, decision=Decision.GRANTED, decided_on=start)
    versions.append(ApplicationVersion(recorded_from=at(start), state=decided))
    facts.extend(changes(ApplicationChange, f"application:bench:a{ref}", versions))
    events.append(
        event(
            "application.received",
            f"a{ref}",
            received,
            {
                "application_ref": f"a{ref}",
                "client": {"client_ref": client},
                "municipality": municipality,
                "regulation": regulation.value,
                "received_on": received.isoformat(),
            },
        )
    )
    events.append(
        event(
            "application.decided",
            f"d{ref}",
            start,
            {"application_ref": f"a{ref}", "decision": "granted", "decided_on": start.isoformat()},
        )
    )
    benefit = [
        BenefitVersion(recorded_from=at(start), state=replace(state, end_date=None, outflow_reason=None))
    ]
    events.append(
        event(
            "benefit.started",
            f"s{ref}",
            start,
            {
                "benefit_ref": ref,
                "municipality": municipality,
                "regulation": regulation.value,
                "start_date": start.isoformat(),
                "inflow_reason": inflow.value,
                "members": [{"client_ref": client, "role": "applicant", "birth_date": born.isoformat()}],
                "application_ref": f"a{ref}",
            },
        )
    )
    if end is not None and outflow is not None:
        benefit.append(BenefitVersion(recorded_from=at(end), state=state))
        events.append(
            event(
                "benefit.ended",
                f"e{ref}",
                end,
                {"benefit_ref": ref, "end_date": end.isoformat(), "outflow_reason": outflow.value},
            )
        )
    facts.extend(changes(BenefitChange, f"benefit:bench:{ref}", benefit))
    until = end or date(2025, 1, 1)
    sent = start + timedelta(days=rng.randrange(20, 90))
    if sent < until:
        record(f"p{ref}", sent, PlanSent(plan_ref=f"p{ref}", sent_on=sent, application_ref=f"a{ref}"))
        events.append(
            event(
                "plan.sent",
                f"p{ref}",
                sent,
                {
                    "plan_ref": f"p{ref}",
                    "client": {"client_ref": client},
                    "sent_on": sent.isoformat(),
                    "application_ref": f"a{ref}",
                },
            )
        )
    day, year = start, 0
    while day < until:
        stream = rng.choices(list(ClientStream), (60, 25, 15))[0]
        exempt = rng.random() < 0.1
        key = f"as{ref}-{year}"
        record(
            key,
            day,
            Assessment(
                assessed_on=day,
                ladder_step=rng.randrange(1, 6),
                client_stream=stream,
                work_obligation_exempt=exempt,
            ),
        )
        events.append(
            event(
                "client.assessed",
                key,
                day,
                {
                    "client": {"client_ref": client},
                    "assessed_on": day.isoformat(),
                    "ladder_step": 3,
                    "client_stream": stream.value,
                    "work_obligation_exempt": exempt,
                },
            )
        )
        if stream == ClientStream.MEDIABLE:
            for half in (0, 1):
                on = day + timedelta(days=60 + 180 * half + rng.randrange(-30, 60))
                if on < until:
                    long = rng.random() < 0.1
                    key = f"pr{ref}-{year}-{half}"
                    record(key, on, ProgressReport(recorded_on=on, long_trajectory=long))
                    events.append(
                        event(
                            "progress_report.recorded",
                            key,
                            on,
                            {
                                "client": {"client_ref": client},
                                "recorded_on": on.isoformat(),
                                "long_trajectory": long,
                            },
                        )
                    )
        day += timedelta(days=365)
        year += 1
    return facts, events


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def sampled(timing: Timed) -> str:
    times = timing.times
    return (
        f"p50 {statistics.median(times):.2f} ms, p99 {percentile(times, 0.99):.2f} ms ({len(times)} keer); "
        f"CPU per verzoek: server {timing.server_cpu:.2f} ms, PostgreSQL {timing.database_cpu:.2f} ms"
    )


class Server(NamedTuple):
    """The reporting service in a process of its own, the database it serves, and a reader's
    credential."""

    pid: int
    port: int
    url: str
    headers: dict[str, str]

    def request(self, path: str, query: dict[str, str]) -> bytes:
        """A GET built once and sent as it is on every timed request."""
        # As the dashboard's browser asks: a kept answer may come gzipped.
        lines = [f"GET {path}?{urlencode(query)} HTTP/1.1", "Host: 127.0.0.1", "Accept-Encoding: gzip"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Http(asyncio.BufferedProtocol):
    """One keep-alive HTTP/1.1 connection to the server. A request is one write of bytes built
    beforehand; the answer is received straight into one buffer and is complete at its
    Content-Length. Little more than any client must do, so a timed request is the server's work
    and the loopback's."""

    def __init__(self) -> None:
        self.buffer = bytearray(ANSWER_BYTES)
        self.view = memoryview(self.buffer)
        self.filled = 0
        self.end = 0
        self.transport: asyncio.Transport | None = None
        self.answered: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self.filled += nbytes
        if not self.end:
            head = self.buffer.find(b"\r\n\r\n", 0, self.filled)
            if head < 0:
                return
            lowered = self.buffer[:head].lower()
            start = lowered.index(b"\r\ncontent-length:") + 17
            self.end = head + 4 + int(lowered[start : lowered.index(b"\r\n", start)])
        if self.filled >= self.end and self.answered is not None:
            self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answered is not None and not self.answered.done():
            self.answered.set_exception(exc or ConnectionResetError("de server sloot de verbinding"))

    async def get(self, request: bytes) -> None:
        """Sends `request` and returns once its whole answer is in (`status`, `body`)."""
        assert self.transport is not None
        self.filled = self.end = 0
        self.answered = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        await self.answered

    @property
    def status(self) -> int:
        return int(self.buffer[9:12])

    @property
    def body(self) -> bytes:
        """The body as sent (gzipped or not)."""
        return bytes(self.view[self.buffer.index(b"\r\n\r\n") + 4 : self.end])

    def document(self) -> Any:
        """The answer's JSON."""
        head = self.buffer[: self.buffer.index(b"\r\n\r\n")].lower() + b"\r\n"
        gzipped = b"\r\ncontent-encoding: gzip\r\n" in head
        return orjson.loads(gzip.decompress(self.body) if gzipped else self.body)


# Room for the largest answer timed (the organisation's monthly report over five years is about
# 0.55 MB), received without growing the buffer.
ANSWER_BYTES = 1 << 23


@asynccontextmanager
async def connected(server: Server) -> AsyncIterator[Http]:
    transport, http = await asyncio.get_running_loop().create_connection(Http, "127.0.0.1", server.port)
    try:
        yield http
    finally:
        transport.close()


class Timed(NamedTuple):
    """Milliseconds of each timed request, the answer, and CPU milliseconds a request in the
    server's process and in its PostgreSQL backends."""

    times: list[float]
    answer: dict[str, Any]
    server_cpu: float
    database_cpu: float


async def timed(server: Server, path: str, query: dict[str, str], runs: int, budget_s: float) -> Timed:
    """`runs` requests after one warm-up, or as many as fit in the budget (at least three, unless
    `runs` is fewer), each answered 200 with the warm-up's body; from writing the request to
    having read the whole answer."""
    request = server.request(path, query)
    database = server.url.rsplit("/", 1)[1]
    async with connected(server) as http, DatabaseCpu(database) as database_spent:
        await http.get(request)
        expected, answer = http.body, http.document()
        assert http.status == 200, expected
        times: list[float] = []
        cpu, database_cpu = cpu_seconds(server.pid), (await database_spent.seconds())[database]
        deadline = time.perf_counter() + budget_s
        while len(times) < runs and (len(times) < 3 or time.perf_counter() < deadline):
            t = time.perf_counter()
            await http.get(request)
            times.append((time.perf_counter() - t) * 1000)
            assert http.status == 200, http.body
            assert http.body == expected, http.body
        cpu = (cpu_seconds(server.pid) - cpu) / len(times) * 1000
        database_cpu = ((await database_spent.seconds())[database] - database_cpu) / len(times) * 1000
    return Timed(times, answer, cpu, database_cpu)


@asynccontextmanager
async def database(label: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of this run, dropped afterwards."""
    name = f"stroom_bench_{os.getpid()}_{label}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def reports_server(url: str, answers_kept: int = 32) -> AsyncIterator[Server]:
    """`stroom serve reporting` on the database of `url` in a process of its own, as production
    runs it (uvicorn with httptools, JSON logs), the consumer off, so without a broker; with
    `answers_kept=0` every answer is computed. Stopped afterwards."""
    # As autovacuum leaves the tables within a minute of a load this size, whether or not it runs
    # beside this bench: planner statistics, and no dead row versions of the totals and cells the
    # load updated in place (their number grows with the history loaded; every read of a live row
    # beside them would step over them).
    stats = await asyncpg.connect(url.replace("+asyncpg", ""))
    await stats.execute("VACUUM ANALYZE")
    await stats.close()
    port = free_port()
    env = embedded_environment() | {
        "DATABASE_URL": url,
        "STROOM_CONSUME": "false",
        "STROOM_ANSWERS_KEPT": str(answers_kept),
        "STROOM_REPORTING_HOST": "127.0.0.1",
        "STROOM_REPORTING_PORT": str(port),
    }
    data_dir = Path(env["STROOM_DATA_DIR"])
    # The embedded issuer's key is made here, before the server reads it.
    headers = reader(data_dir)
    log = data_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [str(Path(sys.executable).with_name("stroom")), "serve", "reporting", "--no-migrate"],
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        server = Server(process.pid, port, url, headers)
        await ready(server, process, log)
        yield server
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


async def ready(server: Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """Returns once the server answers /healthz; a server that stops or does not answer within a
    minute ends the bench with its log."""
    request = server.request("/healthz", {})
    for _ in range(600):
        if process.poll() is not None:
            break
        try:
            async with connected(server) as http:
                await http.get(request)
                if http.status == 200:
                    return
        except OSError:
            await asyncio.sleep(0.1)
    said = await asyncio.to_thread(log.read_text)
    raise SystemExit(f"de rapportageserver werd niet gereed:\n{said[-3000:]}")


KPI_QUERY = {"organisation": ORG, "from": "2024-01", "to": "2024-12"}


async def time_panel(benefits: int, runs: int) -> None:
    """The dashboard's KPI panel (organisation, 2024) on a WerkSaam-sized database of its own."""
    facts, _ = generate(benefits, random.Random(5))
    facts.sort(key=lambda f: f[0])
    # Each change of a benefit opens the row of its newest state.
    latest = {
        f.entity: v.row
        for _, f in facts
        if isinstance(f, BenefitChange)
        for v in f.rows
        if v.row.unit == "benefits" and v.recorded_to is None
    }
    end = date(2024, 12, 31)
    running = sum(
        1 for row in latest.values() if row.start_date <= end and (row.end_date is None or row.end_date > end)
    )
    async with database("panel") as url:
        engine = make_engine(url)
        for start in range(0, len(facts), 2000):
            async with engine.begin() as conn:
                await apply_facts(conn, [f for _, f in facts[start : start + 2000]], datetime.now(UTC))
        await engine.dispose()
        async with reports_server(url) as server:
            served = await timed(server, "/v1/reports/kpis", KPI_QUERY, runs, 30)
        async with reports_server(url, answers_kept=0) as server:
            computed = await timed(server, "/v1/reports/kpis", KPI_QUERY, runs, 30)
    p99 = percentile(served.times, 0.99)
    print(
        f"KPI-paneel, WerkSaam 2024 ({benefits:,} uitkeringen, {running:,} lopend aan het eind, "
        f"{len(facts):,} feiten): {sampled(served)}; doel p99 < 30 ms: {verdict(p99 < 30)}; elke keer "
        f"berekend (geen bewaard antwoord, zoals na elke lading): {sampled(computed)}, doel "
        f"{verdict(percentile(computed.times, 0.99) < 30)}"
    )


def verdict(met: bool) -> str:
    return "gehaald" if met else "NIET GEHAALD"


class Loaded(NamedTuple):
    """A load's seconds: its wall time, decoding alone (wall time and CPU), and the CPU of this
    process and of its PostgreSQL backend while loading; and the events generated."""

    loading: float
    decoding: float
    decoding_cpu: float
    cpu: float
    database_cpu: float
    events: int


async def load(url: str, events: int, chunk: int, batch: int, ndjson: Path) -> Loaded:
    """Generate `chunk` benefits at a time and load their facts in consumer batches."""
    async with DatabaseCpu(url.rsplit("/", 1)[1]) as database_spent:
        return await load_watched(url, events, chunk, batch, ndjson, database_spent)


async def load_watched(
    url: str, events: int, chunk: int, batch: int, ndjson: Path, database_spent: DatabaseCpu
) -> Loaded:
    """The load, the CPU of its PostgreSQL processes watched by `database_spent`."""
    rng = random.Random(1)
    engine = make_engine(url)
    loading = decoding = decoding_cpu = cpu = 0.0
    generated = index = 0
    # The consumer's policy (FactsConsumer): the KPI cells restated behind the facts.
    restates = KpiRestates(
        ReportingSettings.model_fields["kpi_restate_seconds"].default,
        batch,
        ReportingSettings.model_fields["kpi_restate_facts"].default,
    )
    # A chunk's facts past its last full batch wait for the next chunk's: a backlog comes to the
    # consumer in full batches, and only the load's last batch may be smaller.
    carried: list[bytes] = []
    with ndjson.open("w") as out:
        while generated < events:
            # About ten events a benefit: small sizes are not rounded up to a whole chunk.
            benefits = min(chunk, (events - generated) // 10 + 1)
            facts, raw = generate(benefits, rng, index)
            index += benefits
            generated += len(raw)
            out.write("".join(json.dumps(e) + "\n" for e in raw))
            # Published live, in the order they are recorded: one fact per event.
            facts.sort(key=lambda f: f[0])
            values = carried + [f.model_dump_json().encode() for _, f in facts]
            del facts
            full = len(values) if generated >= events else len(values) - len(values) % batch
            values, carried = values[:full], values[full:]
            # Both under the collector's settings of the consumer's batches (FactsConsumer._handle).
            t, c = time.perf_counter(), time.process_time()
            for start in range(0, len(values), batch):
                with batch_collection():
                    [FACT_ADAPTER.validate_json(v) for v in values[start : start + batch]]
            decoding += time.perf_counter() - t
            decoding_cpu += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            for start in range(0, len(values), batch):
                with batch_collection():
                    decoded = [FACT_ADAPTER.validate_json(v) for v in values[start : start + batch]]
                    async with engine.begin() as conn:
                        await apply_facts(conn, decoded, datetime.now(UTC), restate=False)
                # Only loading time passes, as for a consumer working through a backlog.
                if restates.applied(len(decoded), loading + time.perf_counter() - t):
                    await restate(engine, restates)
            if generated >= events and restates.pending_since is not None:
                # The consumer's idle step: the KPI cells current before the load is done.
                await restate(engine, restates)
            loading += time.perf_counter() - t
            cpu += time.process_time() - c
            print(
                f"  {generated:,} events geladen, {generated / loading:,.0f} events/s", end="\r", flush=True
            )
    print()
    # The pool's one connection (and its parallel workers) has served every batch since the load began.
    database_cpu = sum((await database_spent.seconds()).values())
    await engine.dispose()
    return Loaded(loading, decoding, decoding_cpu, cpu, database_cpu, generated)


async def restate(engine: AsyncEngine, restates: KpiRestates) -> None:
    """Restate the pending KPI cells in a transaction of their own and reclaim the queue's space
    when due, as the consumer does."""
    with batch_collection():
        restated = await restate_kpis_apart(engine)
    if restates.restated(restated):
        await reclaim_pending(engine)


def duckdb_ms(sql: str, parameters: list[object], runs: int = 3) -> tuple[float, list[Any]]:
    """DuckDB's median milliseconds over `runs` fresh connections (nothing cached between), and
    the last result."""
    times, rows = [], []
    for _ in range(runs):
        connection = duckdb.connect()
        t = time.perf_counter()
        rows = connection.execute(sql, parameters).fetchall()
        times.append((time.perf_counter() - t) * 1000)
        connection.close()
    return statistics.median(times), rows


def duckdb_kpis(
    path: Path, report_day: date, runs: int = 3
) -> tuple[float, dict[tuple[str, str], dict[str, Any]]]:
    times, counts = [], {}
    for _ in range(runs):
        connection = duckdb.connect()
        t = time.perf_counter()
        counts = duckdb_reference.kpi_counts(connection, str(path), KPI_PERIODS, report_day)
        times.append((time.perf_counter() - t) * 1000)
        connection.close()
    return statistics.median(times), counts


KPI_PERIODS = {"now": (202401, 202412), "last_year": (202301, 202312)}
ORGANISATION = "organisatie, vijf jaar"
MONTHLY_CASES = {
    "één gemeente, één jaar": {"municipality": "GM0405", "from": "2024-01", "to": "2024-12"},
    ORGANISATION: {"organisation": ORG, "from": "2020-01", "to": "2024-12"},
}


async def one_size(url: str, events: int, chunk: int, batch: int, runs: int) -> dict[str, float]:
    """Load `events` into the database of `url` and time the reports beside DuckDB; the figures
    printed and returned."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        loaded = await load(url, events, chunk, batch, path)
        loading, decoding, generated = loaded.loading, loaded.decoding, loaded.events
        admin = await asyncpg.connect(url.replace("+asyncpg", ""))
        db_bytes = await admin.fetchval("SELECT pg_database_size(current_database())")
        # The largest tables with their indexes: what would need partitions first.
        await admin.execute("ANALYZE")
        tables = await admin.fetch(
            "SELECT relname, pg_total_relation_size(oid) AS size, reltuples FROM pg_class "
            "WHERE relkind = 'r' AND relname LIKE 'reporting%' ORDER BY size DESC LIMIT 4"
        )
        await admin.close()
        raw_bytes = path.stat().st_size
        print(
            f"laden: {generated:,} events in {loading:.1f} s, {generated / loading:,.0f} events/s "
            f"({loading / generated * 1e6:.0f} µs per event); alleen decoderen (basislijn) "
            f"{generated / decoding:,.0f} events/s ({decoding / generated * 1e6:.0f} µs per event, "
            f"CPU {loaded.decoding_cpu / generated * 1e6:.1f} µs); "
            f"verhouding {decoding / loading:.2f} (doel >= 0.5: {verdict(decoding / loading >= 0.5)}); "
            f"CPU per event: dit proces {loaded.cpu / generated * 1e6:.0f} µs (decoderen inbegrepen), "
            f"PostgreSQL {loaded.database_cpu / generated * 1e6:.0f} µs; "
            f"database {db_bytes / generated:,.0f} B per event, "
            f"ruwe NDJSON {raw_bytes / generated:,.0f} B"
        )
        print(
            "grootste tabellen: "
            + ", ".join(
                f"{t['relname']} {t['size'] / generated:,.0f} B per event ({t['reltuples']:,.0f} rijen)"
                for t in tables
            )
        )
        gc.collect()
        print(
            "rapportages: `stroom serve reporting` in een eigen proces, gevraagd over één "
            "keep-alive-verbinding; getimed van het verzoek tot de laatste byte van het antwoord"
        )
        samples: dict[str, Timed] = {}
        async with reports_server(url) as server:
            for label, params in MONTHLY_CASES.items():
                samples[label] = await timed(
                    server, "/v1/reports/monthly", {**params, "unit": "benefits"}, runs, 60
                )
                print(f"maandrapportage, {label}: {sampled(samples[label])}")
            kpi = await timed(server, "/v1/reports/kpis", KPI_QUERY, runs, 60)
            print(f"KPI-overzicht, organisatie, één jaar: {sampled(kpi)}")
        # Without kept answers: what the first request after each load costs.
        async with reports_server(url, answers_kept=0) as server:
            computed = await timed(
                server,
                "/v1/reports/monthly",
                {**MONTHLY_CASES[ORGANISATION], "unit": "benefits"},
                runs,
                60,
            )
            kpi_computed = await timed(server, "/v1/reports/kpis", KPI_QUERY, runs, 60)
            # A kept answer is the one computed now.
            assert computed.answer == samples[ORGANISATION].answer
            assert kpi_computed.answer == kpi.answer
            print(
                f"elke keer berekend (geen bewaard antwoord): maandrapportage, {ORGANISATION}: "
                f"{sampled(computed)}; KPI-overzicht, organisatie, één jaar: {sampled(kpi_computed)}"
            )
        duck_monthly, _ = duckdb_ms(duckdb_reference.MONTHLY_SQL, [str(path)], min(runs, 3))
        report_day = date.today()
        duck_kpi, counts = duckdb_kpis(path, report_day, min(runs, 3))
    organisation, kpi_times, sheet = samples[ORGANISATION].times, kpi.times, kpi.answer
    monthly_ratio = duck_monthly / statistics.median(organisation)
    kpi_ratio = duck_kpi / statistics.median(kpi_times)
    computed_ratios = (
        duck_monthly / statistics.median(computed.times),
        duck_kpi / statistics.median(kpi_computed.times),
    )
    print(
        f"DuckDB uit de ruwe NDJSON: maandtabel, organisatie, vijf jaar {duck_monthly:.0f} ms "
        f"(DuckDB gedeeld door de p50 van Stroom: {monthly_ratio:.1f}x); KPI-overzicht, organisatie, "
        f"één jaar en het jaar ervoor {duck_kpi:.0f} ms (DuckDB gedeeld door de p50 van Stroom: "
        f"{kpi_ratio:.1f}x); "
        f"elke keer berekend: maand {computed_ratios[0]:.1f}x, KPI-overzicht {computed_ratios[1]:.1f}x"
    )
    months = len(month_range(*KPI_PERIODS["now"]))
    rows = sheet["tables"]["kpis"]["rows"]
    differences = list(duckdb_reference.differences(rows, counts, months))
    print(f"KPI-waarden, Stroom tegen DuckDB: {len(rows) * 2 - len(differences)} van {len(rows) * 2} gelijk")
    for line in differences[:20]:
        print(f"  verschilt: {line}")
    totals = {row["kpi"]: row["value"] for row in rows if row["municipality"] == kpis.TOTAL}
    print(f"  organisatie 2024: {', '.join(f'{k} {v}' for k, v in totals.items())}")
    kpi_p99, monthly_p99 = percentile(kpi_times, 0.99), percentile(organisation, 0.99)
    print(f"doelen (issue 14) bij {generated:,} events:")
    print(f"  KPI-overzicht p99 < 100 ms: {kpi_p99:.1f} ms, {verdict(kpi_p99 < 100)}")
    print(f"  KPI-overzicht >= 20x DuckDB: {kpi_ratio:.1f}x, {verdict(kpi_ratio >= 20)}")
    ratio = decoding / loading
    print(f"  feiten laden >= 0.5 van alleen decoderen: {ratio:.2f}, {verdict(ratio >= 0.5)}")
    print(f"  maandrapportage p99 < 20 ms: {monthly_p99:.1f} ms, {verdict(monthly_p99 < 20)}")
    print(f"  maandrapportage >= 300x DuckDB: {monthly_ratio:.1f}x, {verdict(monthly_ratio >= 300)}")
    kpi_computed_p99, monthly_computed_p99 = (
        percentile(kpi_computed.times, 0.99),
        percentile(computed.times, 0.99),
    )
    print(
        f"  elke keer berekend: KPI-overzicht p99 {kpi_computed_p99:.1f} ms "
        f"({verdict(kpi_computed_p99 < 100)}), "
        f"{computed_ratios[1]:.1f}x DuckDB ({verdict(computed_ratios[1] >= 20)}); maandrapportage p99 "
        f"{monthly_computed_p99:.1f} ms ({verdict(monthly_computed_p99 < 20)}), {computed_ratios[0]:.1f}x "
        f"DuckDB ({verdict(computed_ratios[0] >= 300)})"
    )
    return {
        "events": generated,
        "events_per_s": generated / loading,
        "us_per_event": loading / generated * 1e6,
        "load_ratio": decoding / loading,
        "decoding_us": decoding / generated * 1e6,
        "decoding_cpu_us": loaded.decoding_cpu / generated * 1e6,
        "db_bytes_per_event": db_bytes / generated,
        "raw_bytes_per_event": raw_bytes / generated,
        "monthly_p50": statistics.median(organisation),
        "monthly_p99": monthly_p99,
        "kpi_p50": statistics.median(kpi_times),
        "kpi_p99": kpi_p99,
        "monthly_computed_p50": statistics.median(computed.times),
        "kpi_computed_p50": statistics.median(kpi_computed.times),
        "monthly_server_cpu": samples[ORGANISATION].server_cpu,
        "monthly_computed_server_cpu": computed.server_cpu,
        "duckdb_monthly_ms": duck_monthly,
        "duckdb_kpi_ms": duck_kpi,
        "kpi_differences": len(differences),
        "kpi_rows": sum(len(table["rows"]) for table in sheet["tables"].values()),
    }


# The smallest size's reports and a larger size's, timed in turn (A B B A ...), so that both
# share the machine's state of the moment: on a shared machine that moves a loopback request's
# fraction of a millisecond by more than a tenth between two moments minutes apart, in either
# direction, while the same answer costs the server the same CPU. Per block `IN_TURN_RUNS`
# requests (a tenth of that computed): within the rate limit's burst of one server process.
PAIRS = 8
IN_TURN_RUNS = 100
IN_TURN = {
    "monthly": ("/v1/reports/monthly", {**MONTHLY_CASES[ORGANISATION], "unit": "benefits"}),
    "kpis": ("/v1/reports/kpis", KPI_QUERY),
}
IN_TURN_LABELS = {
    (True, "monthly"): "geserveerd maand",
    (True, "kpis"): "geserveerd KPI-overzicht",
    (False, "monthly"): "berekend maand",
    (False, "kpis"): "berekend KPI-overzicht",
}


class Ratios(NamedTuple):
    """The median and range of a larger size's p50 over the smallest's, pair by pair."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"


async def in_turn(smallest: str, larger: str, runs: int) -> dict[tuple[bool, str], Ratios]:
    """Per report, served (kept answers) and computed each time, the ratio of the p50 on the
    database of `larger` to that on `smallest`, over PAIRS pairs of blocks timed in turn."""
    paired: dict[tuple[bool, str], Ratios] = {}
    for kept in (True, False):
        block = min(runs, IN_TURN_RUNS if kept else IN_TURN_RUNS // 10)
        async with (
            reports_server(smallest, 32 if kept else 0) as a,
            reports_server(larger, 32 if kept else 0) as b,
        ):
            for report, (path, query) in IN_TURN.items():
                ratios = []
                for pair in range(PAIRS):
                    p50 = [0.0, 0.0]
                    for side in (0, 1) if pair % 2 == 0 else (1, 0):
                        times = (await timed((a, b)[side], path, query, block, 60)).times
                        p50[side] = statistics.median(times)
                    ratios.append(p50[1] / p50[0])
                paired[kept, report] = Ratios(statistics.median(ratios), min(ratios), max(ratios))
    return paired


# Per event, to refuse a size before generating it. Disk: the database (0.41-0.48 kB an event
# at 100,000 and 1,000,000 events) and the raw file (0.26 kB), with room for PostgreSQL's WAL.
# Memory: the bench peaked at 0.55 GB up to the reports at a million events; the KPI sheet, which
# holds the organisation's benefits in this process, is allowed about 1 kB an event beside it.
# Wall time of a whole size (generation, load, reports, DuckDB) before one has been measured.
MEMORY_PER_EVENT = 1000
DISK_PER_EVENT = 1000
WALL_US_PER_EVENT = 600


def available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def refusal(events: int, wall_us: float, budget_minutes: float) -> str | None:
    """Why a size must not run on this machine (memory, disk or the time budget), if it must not."""
    memory, disk = events * MEMORY_PER_EVENT, events * DISK_PER_EVENT
    free = shutil.disk_usage(tempfile.gettempdir()).free
    minutes = events * wall_us / 1e6 / 60
    if memory > 0.7 * available_memory():
        return (
            f"vraagt ongeveer {memory / 2**30:.1f} GiB geheugen, "
            f"{available_memory() / 2**30:.1f} GiB beschikbaar"
        )
    if disk > 0.8 * free:
        return f"vraagt ongeveer {disk / 2**30:.1f} GiB schijf, {free / 2**30:.1f} GiB vrij"
    if minutes > budget_minutes:
        return f"zou ongeveer {minutes:.0f} minuten duren, meer dan --budget-minutes {budget_minutes:.0f}"
    return None


async def main(sizes: list[int], chunk: int, batch: int, runs: int, panel: int, budget_minutes: float) -> int:
    print(f"belastingsgemiddelde bij de start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    # As the service does after start-up (app lifespan): long-lived objects out of the collector.
    gc.freeze()
    for events in sizes:
        if (reason := refusal(events, 0, float("inf"))) is not None:
            print(f"grootte {events:,} events geweigerd voordat er iets gegenereerd is: hij {reason}")
            return 2
    if panel:
        await time_panel(panel, runs)
    results: list[dict[str, float]] = []
    flatness: list[dict[tuple[bool, str], Ratios]] = []
    wall_us = float(WALL_US_PER_EVENT)
    refused = None
    # The smallest size's database stays until the end: each larger size's reports are timed in
    # turn with its.
    async with AsyncExitStack() as smallest:
        for events in sizes:
            if (reason := refusal(events, wall_us, budget_minutes)) is not None:
                refused = f"grootte {events:,} events niet gedraaid: hij {reason}"
                print(refused)
                break
            print(f"-- {events:,} events")
            started = time.perf_counter()
            async with AsyncExitStack() as this:
                url = await (this if results else smallest).enter_async_context(database(str(events)))
                results.append(await one_size(url, events, chunk, batch, runs))
                wall_us = (time.perf_counter() - started) / events * 1e6
                if len(results) == 1:
                    first_url = url
                else:
                    flatness.append(await in_turn(first_url, url, runs))
    if len(results) > 1:
        print(
            "schaal (organisatie: maandrapportage vijf jaar, KPI-overzicht één jaar; "
            "DuckDB uit het ruwe bestand):"
        )
        print(
            "events | events/s | µs/event | laden/decoderen | maand p50/p99 ms | DuckDB maand ms | "
            "KPI p50/p99 ms | DuckDB KPI ms | KPI-verschillen | berekend p50 ms maand/KPI"
        )
        for r in results:
            print(
                f"{r['events']:,.0f} | {r['events_per_s']:,.0f} | {r['us_per_event']:.0f} | "
                f"{r['load_ratio']:.2f} | {r['monthly_p50']:.1f}/{r['monthly_p99']:.1f} | "
                f"{r['duckdb_monthly_ms']:.0f} | {r['kpi_p50']:.1f}/{r['kpi_p99']:.1f} | "
                f"{r['duckdb_kpi_ms']:.0f} | {r['kpi_differences']:.0f} | "
                f"{r['monthly_computed_p50']:.1f}/{r['kpi_computed_p50']:.1f}"
            )
        first = results[0]
        for r, paired in zip(results[1:], flatness, strict=True):
            cost = r["us_per_event"] / first["us_per_event"]
            served = max(ratio.median for (kept, _), ratio in paired.items() if kept)
            apart = [
                r[k] / first[k]
                for k in ("monthly_p50", "kpi_p50", "monthly_computed_p50", "kpi_computed_p50")
            ]
            print(
                f"vlakheid bij {r['events']:,.0f} tegen {first['events']:,.0f} events: laadkosten per event "
                f"{cost:.2f} (doel binnen 1.20: {verdict(0.8 <= cost <= 1.2)}); alleen decoderen per event "
                f"{r['decoding_us'] / first['decoding_us']:.2f}, zijn CPU "
                f"{r['decoding_cpu_us'] / first['decoding_cpu_us']:.2f}; p50 om beurten gemeten "
                f"({PAIRS} paren, mediaan en bereik van de verhouding): "
                + ", ".join(f"{IN_TURN_LABELS[key]} {ratio}" for key, ratio in paired.items())
                + f" (doel: een geserveerd rapport groeit niet met de geschiedenis, binnen 1.20: "
                f"{verdict(served <= 1.2)}); los van elkaar gemeten: geserveerd maand {apart[0]:.2f}, "
                f"KPI-overzicht {apart[1]:.2f}, berekend maand {apart[2]:.2f}, KPI-overzicht {apart[3]:.2f}; "
                f"rijen in het KPI-overzicht {r['kpi_rows']:,.0f} tegen {first['kpi_rows']:,.0f} "
                f"(de draaideur: per gemeente elk paar van uitstroom- en instroomreden dat voorkomt)"
            )
    print(f"belastingsgemiddelde aan het eind: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if refused else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.reporting",
        description="Laadsnelheid van de feiten en responstijd van de rapportages, en hoe beide "
        "meegroeien met de geschiedenis, naast alleen decoderen en DuckDB. Eerst het KPI-paneel van "
        "het dashboard (organisatie, één jaar) op een caseload zo groot als WerkSaam; daarna per "
        "grootte een gesimuleerde geschiedenis, geladen zoals de consumer dat doet, en de "
        "maandrapportage en het KPI-overzicht gevraagd aan `stroom serve reporting` in een eigen "
        "proces: p50 en p99, met de CPU die een verzoek de server en PostgreSQL kostte. DuckDB "
        "berekent dezelfde tabel en KPI's uit het NDJSON-bestand met de ruwe events, in dezelfde run.",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="één grootte (zie --sizes)")
    parser.add_argument("--sizes", help="meer groottes, gescheiden door komma's (100000,1000000,5000000)")
    parser.add_argument("--chunk", type=int, default=5000, help="uitkeringen die tegelijk gegenereerd worden")
    parser.add_argument(
        "--batch",
        type=int,
        default=ReportingSettings.model_fields["consumer_batch_size"].default,
        help="feiten per transactie (de standaard van de consumer, ReportingSettings.consumer_batch_size)",
    )
    parser.add_argument(
        "--runs", type=int, default=200, help="verzoeken per rapportage (minder na een minuut)"
    )
    parser.add_argument(
        "--kpi-benefits",
        type=int,
        default=6000,
        help="KPI-paneel: ongeveer 3.000 lopend, zoals WerkSaam; 0 slaat het over",
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=60, help="weiger een grootte die naar schatting langer duurt"
    )
    parser.add_argument(
        "--panel-only",
        action="store_true",
        help="alleen het KPI-paneel (ongeveer een halve minuut): geen groottes",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.events]
    if args.panel_only:
        sizes = []
    sys.exit(
        asyncio.run(
            main(
                [s for s in sizes if s],
                args.chunk,
                args.batch,
                args.runs,
                args.kpi_benefits,
                args.budget_minutes,
            )
        )
    )
