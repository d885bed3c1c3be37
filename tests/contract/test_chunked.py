"""`Chunked` is the tuple of its items however it was edited, and `changed_positions` finds the
same positions for two of them as for their tuples."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from stroom_contract.chunked import SIZE, Chunked, changed_positions

items = st.lists(st.integers(0, 3), max_size=3 * SIZE + 5)


@st.composite
def edits(draw: st.DrawFn, length: int) -> dict[int, int]:
    """Items set in place and items appended after them."""
    found: dict[int, int] = {}
    if length:
        for at in draw(st.lists(st.integers(0, length - 1), max_size=4)):
            found[at] = draw(st.integers(0, 3))
    for extra in range(draw(st.integers(0, SIZE + 3))):
        found[length + extra] = draw(st.integers(0, 3))
    return found


def applied(old: list[int], changes: dict[int, int]) -> list[int]:
    new = list(old)
    for at, item in sorted(changes.items()):
        if at < len(new):
            new[at] = item
        else:
            new.append(item)
    return new


@given(st.data(), items)
def test_an_edited_sequence_is_the_tuple_of_its_items(data: st.DataObject, old: list[int]) -> None:
    changes = data.draw(edits(len(old)))
    new = applied(old, changes)
    made = Chunked(old).edited(changes)
    assert made == tuple(new) == Chunked(new)
    assert tuple(new) == made
    assert new == made
    assert list(made) == new
    assert len(made) == len(new)
    assert [made[at] for at in range(-len(new), len(new))] == new + new
    assert made[1:-1] == tuple(new[1:-1])
    assert hash(made) == hash(tuple(new))
    assert pickle.loads(pickle.dumps(made)) == made  # noqa: S301 - its own bytes


@given(st.data(), items)
def test_changed_positions_of_chunked_are_those_of_their_tuples(data: st.DataObject, old: list[int]) -> None:
    changes = data.draw(edits(len(old)))
    before = Chunked(old)
    after = before.edited(changes)
    expected = changed_positions(tuple(old), tuple(applied(old, changes)))
    assert changed_positions(before, after) == expected
    # Made anew, no chunk is shared: compared by value.
    assert changed_positions(Chunked(old), Chunked(list(after))) == expected
    assert changed_positions(after, before) == changed_positions(tuple(after), tuple(old))


def test_an_item_made_again_equal_is_no_change() -> None:
    old = Chunked([(1, "a")] * (SIZE + 2))
    assert changed_positions(old, old.edited({SIZE + 1: (1, "a")})) == []
    assert changed_positions(old, old.edited({3: (2, "b")})) == [3]
