"""The audit log every service keeps in its own database (BIO 8.15.01).

Each service owns a table `<service>_audit` (defined here once, created by a migration in the
service's own chain). The table is append-only: triggers refuse UPDATE, DELETE and TRUNCATE.
Entries are hash-chained (`audit_chain`), and appends are serialised (an advisory lock on
PostgreSQL, the database's write lock on SQLite) so that concurrent writers cannot fork the
chain; a unique `previous_hash` makes a fork impossible even without the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stroom_platform.audit_chain import Anchor, AuditEntry, AuditRecord, Verification, Verifier, chain
from stroom_platform.dialect import (
    big_key,
    lock_transaction,
    locked_transaction,
    refusal_left_behind,
    refuse_changes,
)

log = logging.getLogger(__name__)

ANONYMOUS = "anoniem"
PAGE_LIMIT = 1000
# Sequence numbers are 64-bit integers in the database: a larger `after` is refused, not sent.
MAX_SEQ = 2**63 - 1


def audit_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_audit",
        metadata,
        *_columns(),
    )


def _columns() -> list[Any]:
    return [
        Column("seq", big_key(), primary_key=True, autoincrement=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("service", String(50), nullable=False),
        Column("action", String(100), nullable=False),
        Column("object", Text, nullable=False),
        Column("result", String(100), nullable=False),
        Column("actor", String(300), nullable=False),
        Column("client_address", String(100), nullable=True),
        Column("detail", Text, nullable=True),
        # Unique: two entries claiming the same predecessor would be a fork.
        Column("previous_hash", String(64), nullable=False, unique=True),
        Column("hash", String(64), nullable=False),
    ]


def create_in_migration(op: Any, name: str) -> None:
    """The body of each service's audit migration: the table and its append-only triggers."""
    import sqlalchemy as sa

    op.create_table(name, *_columns(), sa.PrimaryKeyConstraint("seq", name=f"pk_{name}"))
    message = f"{name} is alleen aan te vullen: wijzigen en verwijderen zijn niet toegestaan"
    for statement in refuse_changes(op.get_bind(), name, message):
        op.execute(statement)


def drop_in_migration(op: Any, name: str) -> None:
    left = refusal_left_behind(op.get_bind(), name)
    op.drop_table(name)
    for statement in left:
        op.execute(statement)


# The one list of an AuditRecord's fields that its columns of the same names hold as they are,
# read and written alike; `detail`, a mapping, is held as JSON text.
_PLAIN_FIELDS = tuple(f.name for f in fields(AuditRecord) if f.name != "detail")


def _entry(row: Row[Any]) -> AuditEntry:
    columns = row._mapping
    record = AuditRecord(
        **{name: columns[name] for name in _PLAIN_FIELDS},
        detail=orjson.loads(row.detail) if row.detail is not None else None,
    )
    return AuditEntry(row.seq, row.at, record, row.previous_hash, row.hash)


def _row(entry: AuditEntry) -> dict[str, Any]:
    record = entry.record
    detail = record.detail
    return {
        "seq": entry.seq,
        "at": entry.at,
        **{name: getattr(record, name) for name in _PLAIN_FIELDS},
        "detail": None if detail is None else orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(),
        "previous_hash": entry.previous_hash,
        "hash": entry.hash,
    }


class HeadFile:
    """The newest entry's number and hash in a file under STROOM_DATA_DIR: removing the newest
    entries from the table leaves a valid shorter chain, which only a record kept elsewhere
    shows. It only moves forward (several processes may append), under a file lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Anchor | None:
        try:
            document = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        return Anchor(int(document["seq"]), str(document["hash"]))

    def advance(self, entry: AuditEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read()
            if current is not None and current.seq >= entry.seq:
                return
            temporary = self.path.with_suffix(".tmp")
            temporary.write_bytes(orjson.dumps({"seq": entry.seq, "hash": entry.hash}))
            os.replace(temporary, self.path)


def head_file(data_dir: Path, table: Table, engine: AsyncEngine) -> HeadFile:
    """The head file of `table` in the database `engine` reaches: one per database, so that
    installations (or test runs) sharing a data directory do not share an anchor."""
    database = hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return HeadFile(data_dir / "audit" / f"{table.name}.{database}.head.json")


class AuditLog:
    """Appends to and reads one service's audit table; with a `head` file, each append records
    the newest entry there too, and verification checks the chain reaches it."""

    def __init__(self, engine: AsyncEngine, table: Table, service: str, head: HeadFile | None = None) -> None:
        self.engine = engine
        self.table = table
        self.service = service
        self.head = head
        # Two services sharing one PostgreSQL database lock their own chains only.
        self._lock_key = zlib.crc32(table.name.encode())

    async def append(
        self,
        action: str,
        object: str,
        result: str,
        actor: str,
        client_address: str | None = None,
        detail: dict[str, Any] | None = None,
        within: AsyncConnection | None = None,
    ) -> AuditEntry:
        """Appends an entry; `within` the caller's transaction it stands or falls with what it
        records (on SQLite that transaction holds the write lock once it has written)."""
        record = AuditRecord(action, object, result, actor, self.service, client_address, detail).redacted()
        if within is not None:
            # Not committed yet: the head moves with the next append of this log.
            return await self._locked_insert(within, record)
        async with locked_transaction(self.engine, self._lock_key) as conn:
            entry = await self._insert(conn, record)
        self._committed(entry)
        return entry

    def _committed(self, entry: AuditEntry) -> None:
        # Also in the log, which usually leaves the machine: another record of the head.
        log.info(
            "nieuwste auditregel",
            extra={"audit_table": self.table.name, "seq": entry.seq, "hash": entry.hash},
        )
        if self.head is not None:
            try:
                self.head.advance(entry)
            except OSError as exc:
                log.error(
                    "kopbestand van de audit niet bijgewerkt",
                    extra={"path": str(self.head.path), "error": str(exc)},
                )

    async def _locked_insert(self, conn: AsyncConnection, record: AuditRecord) -> AuditEntry:
        await lock_transaction(conn, self._lock_key)
        return await self._insert(conn, record)

    async def _insert(self, conn: AsyncConnection, record: AuditRecord) -> AuditEntry:
        t = self.table
        last = (await conn.execute(select(t).order_by(t.c.seq.desc()).limit(1))).first()
        entry = chain(_entry(last) if last else None, datetime.now(UTC), record)
        await conn.execute(t.insert().values(_row(entry)))
        return entry

    async def page(self, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        t = self.table
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t).where(t.c.seq > after).order_by(t.c.seq).limit(limit))
            return [_entry(row) for row in rows]

    async def entries(self) -> AsyncIterator[list[AuditEntry]]:
        after = 0
        while batch := await self.page(after, PAGE_LIMIT):
            yield batch
            after = batch[-1].seq

    async def verify(self) -> Verification:
        verifier = Verifier(self.head.read() if self.head is not None else None)
        async for batch in self.entries():
            if not verifier.feed(batch):
                break
        return verifier.result()


AuditSink = Callable[..., Awaitable[AuditEntry]]


def actor_of(scope: Scope) -> str:
    """The subject the authentication put on the request, if any."""
    state = scope.get("state") or {}
    if not isinstance(state, dict):
        return ANONYMOUS
    subject = getattr(state.get("principal"), "subject", None) or state.get("audit_actor")
    return str(subject) if subject else ANONYMOUS


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class AuditFailures:
    """ASGI middleware: every answer 401 or 403, whoever raised it, becomes an audit entry."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, capture)
        if status and status[0] in (401, 403):
            action = "authenticatie" if status[0] == 401 else "autorisatie"
            try:
                await self.audit.append(
                    action=action,
                    object=f"{scope.get('method', '')} {scope.get('path', '')}",
                    result="geweigerd" if status[0] == 403 else "niet geauthenticeerd",
                    actor=actor_of(scope),
                    client_address=client_address(scope),
                    detail={"status": status[0]},
                )
            except Exception:
                # The answer is sent already; a lost entry must at least be visible in the logs.
                log.exception("auditregel voor een geweigerd verzoek kon niet worden opgeslagen")


def request_actor(request: Request) -> str:
    """The principal's subject when authentication put one on the request."""
    principal = getattr(request.state, "principal", None)
    subject = getattr(principal, "subject", None) or getattr(request.state, "audit_actor", None)
    return str(subject) if subject else ANONYMOUS


def audit_of(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


async def record(
    request: Request,
    action: str,
    object: str,
    result: str,
    detail: dict[str, Any] | None = None,
    audit: AuditLog | None = None,
) -> AuditEntry:
    """An entry for what the caller of this request did (a detail read, an admin action), in
    `audit` or else the app's own log."""
    client = request.client
    return await (audit or audit_of(request)).append(
        action, object, result, request_actor(request), client.host if client else None, detail
    )


AdminCheck = Callable[[Request], Any]


def audit_router(require_admin: AdminCheck) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/v1/audit")
    async def read_audit(
        request: Request,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Regels na dit volgnummer")] = 0,
        limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT, description="Hoogstens zoveel regels")] = 100,
        # A default, not Annotated: the string annotation could not see this closure's variable.
        _admin: Any = Depends(require_admin),
    ) -> dict[str, Any]:
        """Het auditlog van de dienst, oudste eerst, met de controle van de hele keten."""
        audit = audit_of(request)
        entries = await audit.page(after, limit)
        verification = await audit.verify()
        await record(
            request,
            "audit-inzage",
            f"{audit.table.name} na {after}",
            "getoond",
            {"entries": len(entries), "valid": verification.valid},
        )
        return {
            "service": audit.service,
            "entries": [entry.document() for entry in entries],
            "next_after": entries[-1].seq if len(entries) == limit else None,
            "verification": verification.document(),
        }

    return router


def install_audit(app: FastAPI, audit: AuditLog, require_admin: AdminCheck) -> None:
    """The log on `app.state.audit`, refused requests recorded, and `GET /v1/audit` for admins."""
    app.state.audit = audit
    app.add_middleware(AuditFailures, audit=audit)
    app.include_router(audit_router(require_admin))
