"""BSN 11-check and keyed pseudonymisation: the only place a raw BSN is handled."""

from __future__ import annotations

import hashlib
import hmac

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
CLIENT_REF_PREFIX = "ps_"


def is_valid_bsn(value: str) -> bool:
    """The elfproef; 000000000 passes the arithmetic but is no citizen's number."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    if value == "000000000":
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value, _WEIGHTS, strict=True))
    return total % 11 == 0


class Pseudonymiser:
    """HMAC-SHA256 under a secret key: stable per key, not reversible without it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key

    def client_ref(self, bsn: str) -> str:
        digest = hmac.new(self._key, bsn.encode("ascii"), hashlib.sha256).hexdigest()
        return CLIENT_REF_PREFIX + digest[:32]

    def __repr__(self) -> str:
        return "Pseudonymiser(key=***)"
