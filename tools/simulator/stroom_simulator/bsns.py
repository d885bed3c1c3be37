"""Made-up BSNs: distinct, passing the 11-check, deterministic from the seed."""

from __future__ import annotations

import hashlib
from random import Random

from stroom_contract.bsn import CLIENT_REF_PREFIX

_FREE_DIGITS = 7
_SPACE = 10**_FREE_DIGITS
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


class BsnSource:
    """Walks a seeded permutation of numbers starting with 9, like RvIG's test persons (9999...).

    Staying in that range keeps the simulated population away from most real citizens; the
    permutation makes every number distinct without remembering the ones handed out.
    """

    def __init__(self, rng: Random) -> None:
        self._step = rng.randrange(1, _SPACE // 10) * 10 + rng.choice((1, 3, 7, 9))
        self._offset = rng.randrange(_SPACE)
        self._index = 0

    def next(self) -> str:
        while self._index < _SPACE:
            body = "9" + str((self._step * self._index + self._offset) % _SPACE).zfill(_FREE_DIGITS)
            self._index += 1
            check = sum(int(digit) * weight for digit, weight in zip(body, _WEIGHTS, strict=True)) % 11
            if check < 10:
                return body + str(check)
        raise RuntimeError("the simulated population has used up every BSN of its range")


def pseudonym(label: str) -> str:
    """A client_ref of the shape Stroom issues, for made-up persons that have no BSN behind them."""
    return CLIENT_REF_PREFIX + hashlib.sha256(label.encode()).hexdigest()[:32]
