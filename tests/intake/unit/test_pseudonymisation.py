"""The hand-unrolled elfproef and HMAC of the contract equal their textbook forms."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from stroom_contract.bsn import Pseudonymiser, is_valid_bsn

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def _textbook_elfproef(value: str) -> bool:
    if len(value) != 9 or not all(c in "0123456789" for c in value) or value == "000000000":
        return False
    return sum(int(digit) * weight for digit, weight in zip(value, _WEIGHTS, strict=True)) % 11 == 0


@given(st.from_regex(r"\A[0-9]{9}\Z") | st.text(max_size=12))
def test_elfproef_equals_the_textbook_sum(value: str) -> None:
    assert is_valid_bsn(value) == _textbook_elfproef(value)


@given(key=st.binary(min_size=16, max_size=200), bsn=st.from_regex(r"\A[0-9]{9}\Z"))
def test_pseudonym_is_hmac_sha256_under_the_key(key: bytes, bsn: str) -> None:
    expected = "ps_" + hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest()[:32]
    assert Pseudonymiser(key).client_ref(bsn) == expected
