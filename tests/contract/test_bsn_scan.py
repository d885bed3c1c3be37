"""The quick scan `contains_bsn` starts with may pass over a text only if it holds no BSN."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from stroom_contract.bsn import bsn_spans, contains_bsn

# Digits and every separator a BSN may be written with, and what stands beside them in ids.
_ALPHABET = "0123456789" * 3 + " .-\u00a0\u2010\u2011\u2012\u2013_,abGM"


@given(st.text(alphabet=_ALPHABET, max_size=40))
# Each spelling of a BSN, which random texts seldom hold, and an id that holds none.
@example("x712350780")
@example("GM0405-7123.50.780")
@example("71 235 0780")
@example("a 7123\u201150\u2013780")
@example("bsn 12345672.")
@example("GM0405-f0cc2a-0013802")
def test_the_quick_scan_agrees_with_the_full_search(text: str) -> None:
    assert contains_bsn(text) == (next(bsn_spans(text), None) is not None)
