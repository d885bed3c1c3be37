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


@given(st.binary(min_size=1, max_size=100).filter(lambda key: b"|" not in key), st.binary(max_size=50))
def test_records_of_an_entity_share_its_partition(entity: bytes, record: bytes) -> None:
    partitions = list(range(12))
    expected = DefaultPartitioner()(entity, partitions, partitions)
    assert partitioner.entity_partition_for(entity, partitions, partitions) == expected
    assert partitioner.entity_partition_for(entity + b"|" + record, partitions, partitions) == expected
