"""Versioned pseudonymisation keys: at least 32 characters each, chained versions."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from stroom_contract.bsn import Pseudonymiser, Rekeyer
from stroom_platform.settings import pseudonym_keys

K1 = "a1" * 16
K2 = "b2" * 16


@given(bsn=st.from_regex(r"\A[0-9]{9}\Z"), k1=st.binary(min_size=32), k2=st.binary(min_size=32))
def test_a_later_version_is_the_hmac_of_the_previous_ref(bsn: str, k1: bytes, k2: bytes) -> None:
    v1 = Pseudonymiser(k1).client_ref(bsn)
    v2 = Pseudonymiser(k1, k2).client_ref(bsn)
    assert v2 == "ps_" + hmac.new(k2, v1.encode(), hashlib.sha256).hexdigest()[:32]
    assert Rekeyer(k2)(v1) == v2
    assert re.fullmatch(r"ps_[0-9a-f]{32}", v2)
    assert Pseudonymiser(k1, k2).version == 2


def test_key_versions_are_read_oldest_first() -> None:
    assert pseudonym_keys(SecretStr(f"{K1}, {K2}")) == [K1.encode(), K2.encode()]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("short-key", "STROOM_PSEUDONYM_KEY moet"),
        ("x" * 31, "STROOM_PSEUDONYM_KEY moet"),
        ("changeme", "STROOM_PSEUDONYM_KEY moet"),
        (f"{K1},changeme", "STROOM_PSEUDONYM_KEY (versie 2) moet"),
        (f"{K1},", "STROOM_PSEUDONYM_KEY (versie 2) moet"),
    ],
)
def test_short_and_placeholder_keys_are_refused(value: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        pseudonym_keys(SecretStr(value))
