"""The audit log's hash chain, without I/O: canonical content, entry hashes and the verifier.

Every entry carries `hash = SHA-256(previous_hash || canonical content)`, the first one chained
to `GENESIS`. Changing, inserting or deleting an entry in the middle breaks the link of the entry
itself or of the one after it, so a walk from the start finds the first broken entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from stroom_contract.redaction import redact

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """What happened, by whom, from where (BIO 8.15.01), before it gets its place in the chain."""

    action: str
    object: str
    result: str
    actor: str
    service: str
    client_address: str | None = None
    detail: Mapping[str, Any] | None = None

    def redacted(self) -> AuditRecord:
        """Refs are pseudonyms already, but free text may carry anything a caller sent."""
        return AuditRecord(
            action=redact(self.action),
            object=redact(self.object),
            result=redact(self.result),
            actor=redact(self.actor),
            service=self.service,
            client_address=redact(self.client_address) if self.client_address else None,
            detail=_redact_value(self.detail) if self.detail is not None else None,
        )


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    record: AuditRecord
    previous_hash: str
    hash: str

    def document(self) -> dict[str, Any]:
        r = self.record
        return {
            "seq": self.seq,
            "timestamp": utc_text(self.at),
            "action": r.action,
            "object": r.object,
            "result": r.result,
            "actor": r.actor,
            "origin": {"client_address": r.client_address, "service": r.service},
            "detail": r.detail,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
        }


def utc_text(moment: datetime) -> str:
    # SQLite hands back naive datetimes; the log only ever writes UTC.
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def canonical(seq: int, at: datetime, record: AuditRecord) -> bytes:
    content = {
        "seq": seq,
        "timestamp": utc_text(at),
        "action": record.action,
        "object": record.object,
        "result": record.result,
        "actor": record.actor,
        "service": record.service,
        "client_address": record.client_address,
        "detail": record.detail,
    }
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def entry_hash(previous_hash: str, seq: int, at: datetime, record: AuditRecord) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + canonical(seq, at, record)).hexdigest()


def chain(previous: AuditEntry | None, at: datetime, record: AuditRecord) -> AuditEntry:
    """The entry that follows `previous` (None: the first entry of the log)."""
    seq = previous.seq + 1 if previous else 1
    previous_hash = previous.hash if previous else GENESIS
    return AuditEntry(seq, at, record, previous_hash, entry_hash(previous_hash, seq, at, record))


@dataclass(frozen=True)
class Verification:
    valid: bool
    checked: int
    first_broken: int | None = None
    reason: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "checked": self.checked,
            "first_broken_seq": self.first_broken,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Anchor:
    """The newest entry as recorded outside the database: a chain that ends before it, or holds
    another hash at its place, was cut short or rewritten."""

    seq: int
    hash: str


@dataclass
class Verifier:
    """Walks the entries in order (fed page by page) and remembers the first broken one."""

    anchor: Anchor | None = None
    checked: int = 0
    _previous_hash: str = GENESIS
    _previous_seq: int = 0
    _broken: Verification | None = field(default=None)

    def feed(self, entries: Iterable[AuditEntry]) -> bool:
        """False once a broken entry was found: the rest need not be read."""
        for entry in entries:
            if self._broken is not None:
                return False
            self.checked += 1
            reason = self._check(entry)
            if reason is not None:
                self._broken = Verification(False, self.checked, entry.seq, reason)
                return False
            self._previous_hash, self._previous_seq = entry.hash, entry.seq
        return self._broken is None

    def _check(self, entry: AuditEntry) -> str | None:
        if entry.seq != self._previous_seq + 1:
            return f"volgnummer {entry.seq} volgt niet op {self._previous_seq}: een regel ontbreekt"
        if entry.previous_hash != self._previous_hash:
            return "de verwijzing naar de vorige regel klopt niet"
        if entry.hash != entry_hash(entry.previous_hash, entry.seq, entry.at, entry.record):
            return "de inhoud van de regel is gewijzigd"
        if self.anchor is not None and entry.seq == self.anchor.seq and entry.hash != self.anchor.hash:
            return "de regel verschilt van het anker buiten de database: de keten is herschreven"
        return None

    def result(self) -> Verification:
        if self._broken is not None:
            return self._broken
        if self.anchor is not None and self._previous_seq < self.anchor.seq:
            return Verification(
                False,
                self.checked,
                self._previous_seq + 1,
                f"regels {self._previous_seq + 1} tot en met {self.anchor.seq} ontbreken: het anker buiten"
                " de database noemt een nieuwere regel dan de laatste",
            )
        return Verification(True, self.checked)


def verify(entries: Iterable[AuditEntry], anchor: Anchor | None = None) -> Verification:
    verifier = Verifier(anchor)
    verifier.feed(entries)
    return verifier.result()
