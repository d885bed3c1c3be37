"""Health, readiness, status and Prometheus metrics endpoints every service mounts."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stroom_platform.auth import OPS_READ, require_scope
from stroom_platform.problems import PROBLEM_JSON
from stroom_platform.responses import FastJSONResponse

log = logging.getLogger(__name__)
T = TypeVar("T")

ReadinessCheck = Callable[[], Awaitable[None]]
# A service's runtime answers /status with what it alone knows (its backlog, consumer, lag).
StatusReport = Callable[[], Awaitable[dict[str, Any]]]


class ServiceRuntime(Protocol):
    """A service's running parts as the platform serves them: started and stopped with the app,
    its readiness checks, its /status report and the registry its metrics are on."""

    @property
    def registry(self) -> CollectorRegistry: ...

    @property
    def engine(self) -> AsyncEngine: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def checks(self) -> Mapping[str, ReadinessCheck]: ...

    async def status(self) -> dict[str, Any]: ...


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: list[str]


class DatabaseStatus(BaseModel):
    reachable: bool


class ServiceStatus(BaseModel):
    """De /status van een dienst: wat hij naast `service` en `database` noemt, is van hemzelf (zie
    zijn documentatie)."""

    model_config = ConfigDict(extra="allow")

    service: str
    database: DatabaseStatus


_METRICS_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus-tekstformaat", "content": {"text/plain": {"schema": {"type": "string"}}}}
}
_NOT_READY_DOC: dict[int | str, dict[str, Any]] = {
    503: {"description": "Een of meer controles faalden (`failed`)."}
}


def moment(value: datetime | None) -> str | None:
    """A time in a /status report: RFC 3339, or null when there is none (yet)."""
    return value.isoformat() if value else None


async def database_check(engine: AsyncEngine) -> None:
    """The database answers a query: every service's readiness check `database`."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# A status page answers also while the database is away.
_STATUS_READ_SECONDS = 3.0
# A reading that merely takes too long is a busy database (SQLite behind a long write, a loaded
# machine), not yet one that is away: only when none has answered for this long is it logged so.
_SLOW_BEFORE_AWAY_SECONDS = 30.0
# Whether each engine's database answered its last status reading: a monitor polling /status
# while the database is away gets the change logged, not every poll.
_REACHABLE: weakref.WeakKeyDictionary[AsyncEngine, bool] = weakref.WeakKeyDictionary()
# When each engine's database last answered a status reading, or was first found slow.
_ANSWERED: weakref.WeakKeyDictionary[AsyncEngine, float] = weakref.WeakKeyDictionary()


async def database_status(
    engine: AsyncEngine, read: Callable[[AsyncConnection], Awaitable[T]]
) -> tuple[T | None, dict[str, bool]]:
    """What a /status reads from the database, and the report's `database` section, the same in
    every service: when the database does not answer in time nothing is read, and it is not
    reachable."""
    now = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(_STATUS_READ_SECONDS), engine.connect() as conn:
            found = await read(conn)
    except Exception as exc:
        error = {"error": type(exc).__name__}
        # Timed from its last answer, or from the first slow reading of one that never answered.
        busy = now - _ANSWERED.setdefault(engine, now) < _SLOW_BEFORE_AWAY_SECONDS
        if isinstance(exc, TimeoutError) and busy:
            log.info("database antwoordt traag op de statusvraag", extra=error)
        elif _REACHABLE.get(engine, True):
            log.warning("database niet bereikbaar", extra=error)
            _REACHABLE[engine] = False
        return None, {"reachable": False}
    if not _REACHABLE.get(engine, True):
        log.warning("database weer bereikbaar")
    _REACHABLE[engine] = True
    _ANSWERED[engine] = asyncio.get_running_loop().time()
    return found, {"reachable": True}


def ops_router(
    registry: CollectorRegistry,
    checks: Mapping[str, ReadinessCheck],
    status: StatusReport,
    status_description: str,
) -> APIRouter:
    """`/healthz` says the process lives; `/readyz` runs each named check; `/status` is the
    service's own report for operators; `/metrics` exports."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """Of het proces leeft; vraagt niets aan de database of de broker."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, responses=_NOT_READY_DOC)
    async def readyz() -> FastJSONResponse:
        """Of de dienst werk aankan: elke controle (database, broker) slaagt, anders 503 met de
        controles die faalden."""
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
            except Exception as exc:
                failed[name] = type(exc).__name__
        if failed:
            return FastJSONResponse(
                {
                    "type": "https://stroom.example/problems/not-ready",
                    "title": "Niet gereed",
                    "status": 503,
                    "failed": failed,
                },
                status_code=503,
                media_type=PROBLEM_JSON,
            )
        return FastJSONResponse({"status": "ready", "checks": sorted(checks)})

    @router.get(
        "/status",
        response_model=ServiceStatus,
        description=status_description,
        dependencies=[Depends(require_scope(OPS_READ))],
    )
    async def get_status() -> dict[str, Any]:
        return await status()

    @router.get(
        "/metrics",
        response_class=Response,
        responses=_METRICS_DOC,
        dependencies=[Depends(require_scope(OPS_READ))],
    )
    async def metrics() -> Response:
        """De meetwaarden van de dienst in het tekstformaat van Prometheus."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
