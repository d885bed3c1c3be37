"""A tuple kept in chunks, for a sequence of which each new version changes a place or two: a
benefit's member spells over its versions.

A version made by `edited` shares every chunk it does not change with the version before, so
making it costs the chunks changed and the list of chunks (a thirty-second of the items), where a
tuple would be copied whole; and two versions are compared chunk by chunk by identity
(`changed_positions`). A member spell that a benefit of a thousand events ends with is one of
hundreds: copied, compared and freed whole on every event, they made an event on it cost half as
much again as on a benefit of ten.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress
from operator import is_not
from typing import Any, TypeVar, overload

T = TypeVar("T")

# Items per chunk: chunk k holds items 32k to 32k + 31, so equal items are chunked alike.
SIZE = 32


class Chunked(Sequence[T]):
    """An immutable sequence equal to the tuple, and to the list, of its items."""

    __slots__ = ("_length", "chunks")

    def __init__(self, items: Iterable[T] = ()) -> None:
        whole = tuple(items)
        self.chunks: tuple[tuple[T, ...], ...] = tuple(
            whole[start : start + SIZE] for start in range(0, len(whole), SIZE)
        )
        self._length = len(whole)

    @classmethod
    def _of(cls, chunks: tuple[tuple[T, ...], ...], length: int) -> Chunked[T]:
        made: Chunked[T] = cls.__new__(cls)
        made.chunks, made._length = chunks, length
        return made

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        at = index + self._length if index < 0 else index
        if not 0 <= at < self._length:
            raise IndexError(index)
        return self.chunks[at // SIZE][at % SIZE]

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self.chunks)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Chunked):
            # Equal items are chunked alike; C compares the chunks, a shared one by identity.
            return self.chunks == other.chunks
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Chunked({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Chunked, (tuple(self),))

    def edited(self, edits: Mapping[int, T]) -> Chunked[T]:
        """This sequence with the item at each position of `edits` set; positions from its length
        on, given in order without a gap, are appended."""
        chunks = list(self.chunks)
        length = self._length
        for index, item in sorted(edits.items()):
            number, at = divmod(index, SIZE)
            if number == len(chunks):
                chunks.append((item,))
            else:
                chunk = chunks[number]
                chunks[number] = (*chunk[:at], item, *chunk[at + 1 :])
            length = max(length, index + 1)
        return Chunked._of(tuple(chunks), length)


def changed_positions(old: Sequence[object], new: Sequence[object]) -> list[int]:
    """The positions at which `new` differs from `old`, the longer one's tail included. Items that
    were not changed are kept as the same objects, so they are compared by identity in C (compress,
    map) and by value only where that differs (an item made again may be equal); of two `Chunked`,
    only the chunks that are not the same."""
    if not (isinstance(old, Chunked) and isinstance(new, Chunked)):
        return _differing(old, new, 0)
    mine, theirs = old.chunks, new.chunks
    shared = min(len(mine), len(theirs))
    differ: list[int] = []
    for number in compress(range(shared), map(is_not, mine, theirs)):
        differ.extend(_differing(mine[number], theirs[number], number * SIZE))
    differ.extend(range(shared * SIZE, max(old._length, new._length)))
    return differ


def _differing(old: Sequence[object], new: Sequence[object], offset: int) -> list[int]:
    common = min(len(old), len(new))
    found = [offset + i for i in compress(range(common), map(is_not, old, new)) if old[i] != new[i]]
    found.extend(range(offset + common, offset + max(len(old), len(new))))
    return found
