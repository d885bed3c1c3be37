"""Kept answers: served while the read models stand, computed again once a load has changed them,
and then equal to an answer computed afresh."""

from __future__ import annotations

import asyncio
import gc
import gzip
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from conftest import bearer
from sqlalchemy import event, text

from reporting.changes import as_facts
from reporting.histories import random_history
from reporting.integration.conftest import EVERYTHING, reporting_app
from stroom_platform.db import make_engine
from stroom_platform.dialect import is_postgres
from stroom_platform.memory import THRESHOLDS
from stroom_reporting.app import create_app
from stroom_reporting.repository import apply_facts, move_generation
from stroom_reporting.service.answers import Answer, Answers, compressed
from stroom_reporting.settings import ReportingSettings

ORG = "werksaam-westfriesland"
REQUESTS = (
    ("/v1/reports/monthly", {"organisation": ORG, "from": "2022-01", "to": "2025-12"}),
    ("/v1/reports/monthly", {"municipality": "GM0405", "from": "2023-01", "to": "2024-12", "format": "csv"}),
    ("/v1/reports/kpis", {"organisation": ORG, "from": "2024-01", "to": "2024-12"}),
)


async def _answers(app: object, requests: tuple[tuple[str, dict[str, str]], ...]) -> list[bytes]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=EVERYTHING) as c:
        found = []
        for path, params in requests:
            response = await c.get(path, params=params)
            assert response.status_code == 200, response.text
            found.append(response.content)
        return found


async def _computed(url: str) -> list[bytes]:
    """The answers of an app that keeps none."""
    app = create_app(ReportingSettings(DATABASE_URL=url, consume=False, answers_kept=0))
    try:
        return await _answers(app, REQUESTS)
    finally:
        await app.state.runtime.engine.dispose()


async def test_a_load_after_a_kept_answer_changes_it(loaded_url: str) -> None:
    app = reporting_app(loaded_url)
    try:
        first = await _answers(app, REQUESTS)
        assert await _answers(app, REQUESTS) == first
        assert first == await _computed(loaded_url)
        engine = make_engine(loaded_url)
        rng = random.Random(5)
        async with engine.begin() as conn:
            new = [random_history(rng, f"benefit:later:{i}", 1, 2) for i in range(30)]
            await apply_facts(conn, as_facts(new), datetime.now(UTC))
        await engine.dispose()
        after = await _answers(app, REQUESTS)
        assert all(a != b for a, b in zip(after, first, strict=True))
        assert after == await _computed(loaded_url)
    finally:
        await app.state.runtime.engine.dispose()


async def _load_more(url: str, seed: int) -> None:
    """Facts applied as another process's consumer applies them."""
    engine = make_engine(url)
    rng = random.Random(seed)
    async with engine.begin() as conn:
        new = [random_history(rng, f"benefit:later:{seed}:{i}", 1, 2) for i in range(30)]
        await apply_facts(conn, as_facts(new), datetime.now(UTC))
    await engine.dispose()


async def _until(condition: Callable[[], bool]) -> None:
    """Waits up to ten seconds for `condition`, looking every 10 ms."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within ten seconds")


async def test_while_the_watch_listens_a_kept_answer_is_served_without_a_read(loaded_url: str) -> None:
    """On PostgreSQL the running app hears every move of the generation (NOTIFY): a repeated
    request reads nothing, a load is heard and its answers computed, and a lost connection makes
    every request read the generation again until the watch listens anew. SQLite tells no one:
    each request reads it."""
    app = reporting_app(loaded_url)
    postgres = is_postgres(loaded_url)
    runtime = app.state.runtime
    watch = runtime.answers.watch
    # Only what it hears changes what it knows: its own reads of the generation come at start.
    watch.check_seconds = 3600
    async with app.router.lifespan_context(app):
        statements: list[str] = []

        def executed(*args: Any) -> None:
            statements.append(args[2])

        event.listen(runtime.reads.sync_engine, "before_cursor_execute", executed)
        if postgres:
            await _until(lambda: watch.known is not None)
        first = await _answers(app, REQUESTS)
        statements.clear()
        assert await _answers(app, REQUESTS) == first
        assert len(statements) == (0 if postgres else len(REQUESTS))

        moves = watch.moves
        await _load_more(loaded_url, 5)
        if postgres:
            await _until(lambda: watch.moves > moves)
        after = await _answers(app, REQUESTS)
        assert all(a != b for a, b in zip(after, first, strict=True))
        assert after == await _computed(loaded_url)

        if postgres:
            admin = make_engine(loaded_url)
            async with admin.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            await admin.dispose()
            await _until(lambda: watch.known is None)
            # Not heard while the watch connects again: each request reads the generation.
            await _load_more(loaded_url, 6)
            again = await _answers(app, REQUESTS)
            assert all(a != b for a, b in zip(again, after, strict=True))
            assert again == await _computed(loaded_url)
            await _until(lambda: watch.known is not None)
            statements.clear()
            assert await _answers(app, REQUESTS) == again
            assert not statements
    await runtime.engine.dispose()


async def test_a_running_app_collects_garbage_as_seldom_as_a_batch_process(loaded_url: str) -> None:
    """A computed report holds thousands of rows at once: under the interpreter's own thresholds
    the collector ran several times during each one, now and then a full pass."""
    app = reporting_app(loaded_url)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == THRESHOLDS
    finally:
        gc.set_threshold(*before)
        await app.state.runtime.engine.dispose()


async def test_an_answer_is_kept_only_while_its_generation_stands(loaded_url: str) -> None:
    engine = make_engine(loaded_url)
    answers = Answers(2)
    computed: list[int] = []

    async def compute() -> Answer:
        computed.append(1)
        return Answer(str(len(computed)).encode(), "text/plain")

    async def compute_while_a_load_commits() -> Answer:
        async with engine.begin() as other:
            await move_generation(other)
        return await compute()

    try:
        async with engine.connect() as conn:
            assert (await answers.serve(conn, lambda: "a", compute)).body == b"1"
            assert (await answers.serve(conn, lambda: "a", compute)).body == b"1"
            assert (await answers.serve(conn, lambda: "b", compute)).body == b"2"
            await conn.rollback()
        async with engine.begin() as conn:
            await move_generation(conn)
        async with engine.connect() as conn:
            assert (await answers.serve(conn, lambda: "a", compute)).body == b"3"
            await conn.rollback()
        # Computed while the generation moved: served, but not kept.
        async with engine.connect() as conn:
            assert (await answers.serve(conn, lambda: "c", compute_while_a_load_commits)).body == b"4"
            await conn.rollback()
        async with engine.connect() as conn:
            assert (await answers.serve(conn, lambda: "c", compute)).body == b"5"
            assert (await answers.serve(conn, lambda: "c", compute)).body == b"5"
            # Of two kept, the one served least recently goes first.
            assert (await answers.serve(conn, lambda: "a", compute)).body == b"6"
            assert (await answers.serve(conn, lambda: "c", compute)).body == b"5"
    finally:
        await engine.dispose()


async def test_a_kept_answer_goes_only_to_callers_who_may_read_it(loaded_url: str) -> None:
    """Kept answers are found before a request's parameters are solved: by the caller's scopes and
    municipalities as well as the request, so another caller asking the same gets its own answer
    or its refusal."""
    app = reporting_app(loaded_url)
    transport = httpx.ASGITransport(app=app)
    organisation = {"organisation": ORG, "from": "2024-01", "to": "2024-12"}
    # EVERYTHING's scopes, one municipality of the organisation.
    hoorn_only = bearer("reports:read", "reports:read:detail", "ops:read", municipalities=["GM0405"])
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:

            async def get(path: str, headers: dict[str, str]) -> httpx.Response:
                return await c.get(path, params=organisation, headers=headers)

            for path in ("/v1/reports/monthly", "/v1/reports/kpis"):
                whole = await get(path, EVERYTHING)
                assert whole.status_code == 200, whole.text
                assert (await get(path, EVERYTHING)).content == whole.content
                hoorn = await get(path, hoorn_only)
                assert hoorn.status_code == 200, hoorn.text
                codes = {m["code"] for m in hoorn.json()["municipalities"]}
                assert codes == {"GM0405"} != {m["code"] for m in whole.json()["municipalities"]}
                assert (await get(path, {})).status_code == 401
            public = await get("/v1/reports/kpis", bearer("reports:read:public"))
            assert public.status_code == 403, public.text
    finally:
        await app.state.runtime.engine.dispose()


async def test_a_kept_answer_is_answered_as_a_computed_one_and_within_the_rate_limit(loaded_url: str) -> None:
    """Kept answers are served before routing, but inside the rate limit and the security, API
    version and cache headers: a served answer carries the headers of the computed one, and a
    caller past its limit gets 429 for it too."""
    # A token back every 100 s: however slow the machine, none comes back during the test.
    settings = ReportingSettings(
        DATABASE_URL=loaded_url, consume=False, rate_limit_per_second=0.01, rate_limit_burst=4
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    path, params = REQUESTS[1]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=EVERYTHING) as c:
            computed, served, again = [await c.get(path, params=params) for _ in range(3)]
            assert computed.status_code == served.status_code == again.status_code == 200
            assert served.content == again.content == computed.content
            assert served.headers.multi_items() == computed.headers.multi_items()
            assert "content-security-policy" in served.headers
            assert served.headers["API-Version"] == app.version
            assert served.headers["cache-control"] == "no-store"
            await c.get(path, params=params)
            limited = await c.get(path, params=params)
            assert limited.status_code == 429, limited.text
    finally:
        await app.state.runtime.engine.dispose()


async def test_a_kept_answer_is_sent_gzipped_to_a_client_that_accepts_gzip(loaded_url: str) -> None:
    """Compressed once when kept: a request whose Accept-Encoding takes gzip gets it, the others
    the answer as it is; both say that the answer varies by Accept-Encoding."""
    app = reporting_app(loaded_url)
    transport = httpx.ASGITransport(app=app)

    async def raw(path: str, params: dict[str, str], accept: str) -> tuple[httpx.Headers, bytes]:
        headers = {"accept-encoding": accept}
        async with c.stream("GET", path, params=params, headers=headers) as response:
            assert response.status_code == 200
            return response.headers, b"".join([chunk async for chunk in response.aiter_raw()])

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=EVERYTHING) as c:
            for path, params in REQUESTS:
                headers, plain = await raw(path, params, "identity")
                assert "content-encoding" not in headers
                assert headers["vary"] == "accept-encoding"
                for accept in ("gzip", "br, gzip;q=0.5", "*", "GZIP ; Q=1"):
                    headers, body = await raw(path, params, accept)
                    assert headers["content-encoding"] == "gzip", accept
                    assert headers["vary"] == "accept-encoding"
                    assert gzip.decompress(body) == plain
                    assert len(body) < len(plain) / 4
                for accept in ("gzip;q=0, *", "br", "gzip;q=nan", "gzip;q=abc", ""):
                    headers, body = await raw(path, params, accept)
                    assert "content-encoding" not in headers, accept
                    assert body == plain
    finally:
        await app.state.runtime.engine.dispose()


def test_an_answer_gzip_hardly_shrinks_is_kept_as_it_is() -> None:
    packed = Answer(random.Random(3).randbytes(4000), "application/octet-stream")

    assert compressed(packed).gzipped is None
    assert compressed(Answer(b"0" * 4000, "text/csv")).gzipped is not None
