"""BSN 11-check and keyed pseudonymisation: the only place a raw BSN is handled."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

CLIENT_REF_PREFIX = "ps_"
# The exact shape `Pseudonymiser.client_ref` gives: a source may only send what Stroom issued.
CLIENT_REF_PATTERN = "^ps_[0-9a-f]{32}$"
_CLIENT_REF = re.compile(CLIENT_REF_PATTERN)
# The elfproef weights 9..2 and -1 summed: subtracting 48 * this turns ASCII codes into digits.
_ASCII_ZERO_OFFSET = 48 * (9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 - 1)
_SHA256_BLOCK = 64


def is_valid_bsn(value: str) -> bool:
    """The elfproef; 000000000 passes the arithmetic but is no citizen's number."""
    if len(value) != 9 or not value.isascii() or not value.isdigit() or value == "000000000":
        return False
    # Unrolled over the ASCII codes: intake runs this for every person in every event.
    d = value.encode()
    total = 9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7] - d[8]
    return (total - _ASCII_ZERO_OFFSET) % 11 == 0


# Nine digits, on their own or in three groups the way people write a BSN (7123.50.780,
# 712 350 780, 712-35-0780): groups of 2 to 4 digits split twice by a dot, space or dash.
# Not any digits around a separator: "2024-0012345" or "f73-0000606" are order numbers, not BSNs.
_SEPARATOR = r"[ .\-\u00a0\u2010-\u2013]"
_CANDIDATE = re.compile(rf"(?<![0-9])(?:[0-9]{{9}}|[0-9]{{2,4}}(?:{_SEPARATOR}[0-9]{{2,4}}){{2}})(?![0-9])")
# A BSN with a leading zero is often written without it (spreadsheets drop it): eight digits that
# pass the 11-check with the zero put back. Eight digits are far more common than nine in ids and
# refs (UITK-20240615, UUID groups, 1.23456512e+08 in a metric), and one in eleven passes, so
# only eight digits standing as a word of their own count: no letter, digit, underscore or dash
# beside them, no decimal point or comma before them or before a digit after them.
_EIGHT = re.compile(r"(?<![0-9A-Za-z_.,\-])[0-9]{8}(?![0-9A-Za-z_\-]|[.,][0-9])")
_PSEUDONYM_IN_TEXT = re.compile(r"ps_[0-9a-f]{32}(?![0-9a-f])")
_SEPARATORS = str.maketrans("", "", " .-\u00a0\u2010\u2011\u2012\u2013")


def bsn_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where `text` holds a number that passes the 11-check, also written with separators, or
    eight digits on their own that pass it with the leading zero put back.

    Only the 11-check decides: order numbers, dates and UUID fragments that fail it stay
    untouched, so ids come back exactly as sent.
    """
    position = 0
    while (match := _CANDIDATE.search(text, position)) is not None:
        # A pseudonym's hex digits may by chance hold nine that pass: they are Stroom's own.
        if is_valid_bsn(match.group().translate(_SEPARATORS)) and not _inside(
            _PSEUDONYM_IN_TEXT, text, match
        ):
            yield match.span()
        # Candidates overlap (111 222 333 444): each one must be tried, spans may overlap.
        position = match.start() + 1
    for match in _EIGHT.finditer(text):
        if is_valid_bsn("0" + match.group()):
            yield match.span()


def _inside(pattern: re.Pattern[str], text: str, match: re.Match[str]) -> bool:
    return any(p.start() <= match.start() and match.end() <= p.end() for p in pattern.finditer(text))


# What every candidate of either kind holds: eight digits in a row, or two digits, a separator,
# two to four digits, a separator and two digits. A text without it (most texts: every event's
# unique id) holds no BSN, found in one scan instead of starting `bsn_spans`' two; without the
# candidates' look-arounds and with a digit first, the scan jumps from digit to digit.
_ANY_CANDIDATE = re.compile(rf"[0-9](?:[0-9]{{7}}|[0-9]{_SEPARATOR}[0-9]{{2,4}}{_SEPARATOR}[0-9]{{2}})")


def contains_bsn(text: str) -> bool:
    if _ANY_CANDIDATE.search(text) is None:
        return False
    return next(bsn_spans(text), None) is not None


def is_client_ref(value: str) -> bool:
    return _CLIENT_REF.match(value) is not None


class _Keyed:
    """HMAC-SHA256 under one key, cut to the shape of a client_ref."""

    def __init__(self, key: bytes) -> None:
        # HMAC (RFC 2104) with its keyed inner and outer states computed once and copied per
        # call: equal to hmac.new(key, value, sha256) at well under half its cost.
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def ref(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return CLIENT_REF_PREFIX + outer.hexdigest()[:32]


class Pseudonymiser:
    """HMAC-SHA256 under a secret key: stable per key, not reversible without it.

    Versioned keys: version 1 turns the BSN into a ref, each later version turns the previous
    version's ref into its own (ref_v2 = HMAC(k2, ref_v1)). So rotating to a new key needs only
    the stored refs, never a BSN, and a fresh BSN passes through every version to arrive at the
    same ref as the stored data of the same person.
    """

    def __init__(self, key: bytes, *rotations: bytes) -> None:
        for each in (key, *rotations):
            if len(each) < 16:
                raise ValueError("een pseudonimiseringssleutel is minstens 16 bytes lang")
        self._first = _Keyed(key)
        self._later = tuple(_Keyed(each) for each in rotations)

    @property
    def version(self) -> int:
        return 1 + len(self._later)

    def client_ref(self, bsn: str) -> str:
        ref = self._first.ref(bsn)
        for step in self._later:
            ref = step.ref(ref)
        return ref

    def __repr__(self) -> str:
        return f"Pseudonymiser(version={self.version}, keys=***)"


class Rekeyer:
    """Turns stored refs of the previous key version into refs of the version of `key`."""

    def __init__(self, key: bytes) -> None:
        self._keyed = _Keyed(key)

    def __call__(self, ref: str) -> str:
        return self._keyed.ref(ref)
