"""Partitioners: Java's murmur2 vectors (wire-protocol.md §14), positive mask, sticky null keys."""

from __future__ import annotations

import random

import pytest

from kafkalite.client.partitioners import (
    StickyPartitioner,
    crc32_partition,
    default_partition,
    murmur2,
    to_positive,
)

JAVA_VECTORS = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]


@pytest.mark.parametrize(("key", "expected"), JAVA_VECTORS)
def test_murmur2_matches_java(key, expected):
    assert murmur2(key.encode()) == expected


def test_murmur2_agrees_with_kafka_python_on_every_tail_length():
    kafka_murmur2 = pytest.importorskip("kafka.partitioner.default").murmur2
    for n in range(0, 40):
        data = bytes((i * 37 + 11) & 0xFF for i in range(n))  # high bytes: unsigned handling
        assert murmur2(data) & 0xFFFFFFFF == kafka_murmur2(bytearray(data)) & 0xFFFFFFFF


def test_to_positive_is_a_mask_not_abs():
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(2**31)) == 0
    assert to_positive(5) == 5


def test_keyed_partition_uses_positive_mask():
    # "21" hashes negative: abs() would give a different partition than the mask.
    assert default_partition(b"21", 7) == (-973932308 & 0x7FFFFFFF) % 7
    assert default_partition(b"21", 7) != abs(-973932308) % 7


def test_empty_key_is_hashed_not_treated_as_null():
    assert default_partition(b"", 10) == to_positive(murmur2(b"")) % 10


def test_bad_partition_count_raises():
    with pytest.raises(ValueError):
        default_partition(b"k", 0)


def test_null_key_sticks_until_a_new_batch():
    sticky = StickyPartitioner(random.Random(7))
    first = sticky.partition("t", 5)
    assert all(sticky.partition("t", 5) == first for _ in range(20))
    sticky.on_new_batch("t", 5, first)
    second = sticky.partition("t", 5)
    assert second != first
    sticky.on_new_batch("t", 5, first)  # stale notification: no change
    assert sticky.partition("t", 5) == second


def test_sticky_prefers_available_partitions_and_survives_one_partition():
    sticky = StickyPartitioner(random.Random(1))
    assert sticky.partition("t", 4, available=[2]) == 2
    sticky.on_new_batch("t", 4, 2, available=[2])
    assert sticky.partition("t", 4, available=[2]) == 2
    single = StickyPartitioner(random.Random(1))
    assert single.partition("u", 1) == 0
    single.on_new_batch("u", 1, 0)
    assert single.partition("u", 1) == 0


def test_crc32_partition_is_librdkafka_consistent_hash():
    import zlib

    assert crc32_partition(b"key", 6) == zlib.crc32(b"key") % 6
