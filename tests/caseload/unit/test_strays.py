"""Which entities only the complete ledger can fold, from what each rebuild worker loaded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stroom_caseload.rebuild.shadow_ledger import strays

keys = st.sets(st.sampled_from([f"benefit:s:{n}" for n in range(8)]))


def test_keys_held_by_two_ledgers_and_local_strays_stray() -> None:
    found = strays([({"a", "b"}, {"b"}), ({"c", "d"}, set()), ({"d", "e"}, set())])
    assert found == {"b", "d"}


@given(st.lists(st.tuples(keys, keys), max_size=4))
def test_a_key_strays_exactly_when_it_strayed_locally_or_is_held_twice(
    ledgers: list[tuple[set[str], set[str]]],
) -> None:
    found = strays(ledgers)
    for key in set().union(*(held for held, _ in ledgers)) | set().union(*(local for _, local in ledgers)):
        held_by = sum(key in held for held, _ in ledgers)
        assert (key in found) == (held_by > 1 or any(key in local for _, local in ledgers))
