"""Kafka's default partitioning (murmur2 of the key), computed a word at a time, or for many keys
at once.

aiokafka's own murmur2 indexes the key byte by byte in Python; on the facts' long record keys
that was most of the cost of publishing them. Same partitions, so producers using either agree.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Collection, Sequence

_MASK = 0xFFFFFFFF
_M = 0x5BD1E995
_SEED = 0x9747B28C
# Below this many keys of one length, one key at a time costs less than setting up the lanes.
_LANES_FROM = 8
# Entities whose hash is kept (see `entity_partitions`); a rebuild's republication meets each
# once, the live workers the same few again and again.
_ENTITIES_KEPT = 1 << 16


def murmur2(data: bytes) -> int:
    """MurmurHash2 as the Java client's `Utils.murmur2`, as an unsigned 32-bit value."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = data[words * 4 :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def _lanes(data: bytes, start: int, length: int, count: int, width: int) -> int:
    """Bytes `start` to `start + width` of each of the `count` keys of `length` joined in `data`,
    each in a 64-bit lane of one integer, lowest first."""
    lanes = bytearray(8 * count)
    for i in range(width):
        lanes[i::8] = data[start + i :: length]
    return int.from_bytes(lanes, "little")


def _murmur2_of_length(keys: Sequence[bytes], length: int) -> list[int]:
    """`murmur2` of each of `keys`, all `length` bytes long. Each key's state is a 64-bit lane of
    one integer and each step of the hash is done to all lanes in one operation, in C: a 32-bit
    value times the 31-bit multiplier fits its lane, and a shift's bits from the lane above are
    masked off. Per key, a tenth of the cost of `murmur2` on the entities' keys."""
    count = len(keys)
    data = b"".join(keys)
    mask = int.from_bytes(b"\xff\xff\xff\xff\0\0\0\0" * count, "little")
    h = ((_SEED ^ length) & _MASK) * (mask // _MASK)
    words = length // 4
    for word in range(words):
        k = (_lanes(data, 4 * word, length, count, 4) * _M) & mask
        k = (((k ^ (k >> 24)) & mask) * _M) & mask
        h = ((h * _M) & mask) ^ k
    tail = length - 4 * words
    if tail >= 3:
        h ^= _lanes(data, 4 * words + 2, length, count, 1) << 16
    if tail >= 2:
        h ^= _lanes(data, 4 * words + 1, length, count, 1) << 8
    if tail:
        h = ((h ^ _lanes(data, 4 * words, length, count, 1)) * _M) & mask
    h = (h ^ (h >> 13)) & mask
    h = (h * _M) & mask
    h = (h ^ (h >> 15)) & mask
    return list(struct.unpack(f"<{count}Q", h.to_bytes(8 * count, "little")))


def murmur2_all(keys: Collection[bytes]) -> dict[bytes, int]:
    """`murmur2` of each of `keys`, those of one length together where there are enough."""
    by_length: dict[int, list[bytes]] = {}
    for key in keys:
        by_length.setdefault(len(key), []).append(key)
    hashes: dict[bytes, int] = {}
    for length, group in by_length.items():
        if len(group) < _LANES_FROM:
            hashes.update((key, murmur2(key)) for key in group)
        else:
            hashes.update(zip(group, _murmur2_of_length(group, length), strict=True))
    return hashes


def partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """A `partitioner` for aiokafka's producer, choosing what its default one chooses."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreads keyless records as aiokafka's default does, no secret
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


# Entity to its hash, without the sign bit.
_entity_hashes: dict[bytes, int] = {}


def entity_partitions(keys: Sequence[bytes], all_partitions: Sequence[int]) -> list[int]:
    """`entity_partition_for` of each of `keys`: the entities not met before hashed together."""
    entities = [key.split(b"|", 1)[0] for key in keys]
    known = _entity_hashes
    new = murmur2_all({entity for entity in entities if entity not in known})
    known.update((entity, hashed & 0x7FFFFFFF) for entity, hashed in new.items())
    count = len(all_partitions)
    partitions = [all_partitions[known[entity] % count] for entity in entities]
    if len(known) > _ENTITIES_KEPT:
        known.clear()
    return partitions


def entity_partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """Partitions by the key's part before the first `|`, its entity: an entity's own records
    and those keyed `entity|record` share a partition, and a person's many records cost one hash."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreads keyless records as aiokafka's default does, no secret
    return entity_partitions([key], all_partitions)[0]
