"""Kafka's default partitioning (murmur2 of the key), computed a word at a time.

aiokafka's own murmur2 indexes the key byte by byte in Python; on the facts' long record keys
that was most of the cost of publishing them. Same partitions, so producers using either agree.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from functools import lru_cache

_MASK = 0xFFFFFFFF
_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """MurmurHash2 as the Java client's `Utils.murmur2`, as an unsigned 32-bit value."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
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


def partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """A `partitioner` for aiokafka's producer, choosing what its default one chooses."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreads keyless records as aiokafka's default does, no secret
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


@lru_cache(maxsize=1 << 16)
def _entity_hash(entity: bytes) -> int:
    return murmur2(entity) & 0x7FFFFFFF


def entity_partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """Partitions by the key's part before the first `|`, its entity: an entity's own records
    and those keyed `entity|record` share a partition, and a person's many records cost one hash."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreads keyless records as aiokafka's default does, no secret
    entity = key.split(b"|", 1)[0]
    return all_partitions[_entity_hash(entity) % len(all_partitions)]
