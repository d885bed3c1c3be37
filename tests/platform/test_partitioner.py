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


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=60), max_size=40), st.integers(0, 12), st.integers(0, 40))
def test_many_keys_hash_as_each_alone(keys: list[bytes], length: int, alike: int) -> None:
    # Keys of one length, enough of them to be hashed side by side, beside keys of every length.
    keys += [bytes([i % 256]) * length + i.to_bytes(2, "big") for i in range(alike)]
    assert partitioner.murmur2_all(keys) == {key: murmur2(key) for key in keys}


@settings(max_examples=300)
@given(
    st.lists(st.binary(min_size=1, max_size=60).filter(lambda key: b"|" not in key), min_size=1, max_size=30),
    st.integers(1, 40),
)
def test_many_records_go_where_each_alone_would(entities: list[bytes], count: int) -> None:
    partitions = list(range(count))
    keys = [entity + b"|" + str(i).encode() for i, entity in enumerate(entities * 3)]
    expected = [DefaultPartitioner()(key.split(b"|")[0], partitions, partitions) for key in keys]
    assert partitioner.entity_partitions(keys, partitions) == expected
    assert [partitioner.entity_partition_for(key, partitions, partitions) for key in keys] == expected
