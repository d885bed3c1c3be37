"""Our murmur2 partitioner chooses exactly what aiokafka's default partitioner chooses."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from stroom_platform import partitioner


@settings(max_examples=2000)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_same_hash_and_partition_as_the_default(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partitioner.murmur2(key) == murmur2(key)
    assert partitioner.partition_for(key, partitions, partitions) == DefaultPartitioner()(
        key, partitions, partitions
    )


def test_keyless_records_go_to_an_available_partition() -> None:
    assert partitioner.partition_for(None, [0, 1, 2], [2]) == 2
