"""Client-side partitioners, compatible with the Java producer (wire-protocol.md §14).

Why Java-compatible: a key must land in the same partition whichever client wrote it, or keyed
consumers and compacted topics see the same key in two places. Kafka's Java client, kafka-python,
aiokafka and kafkajs 2.x all use ``(murmur2(key) & 0x7fffffff) % num_partitions`` — note the
positive *mask*, not ``abs()`` (``abs(-2**31)`` stays negative in Java). librdkafka defaults to
``crc32`` (``consistent_random``) and therefore disagrees unless configured with ``murmur2_random``;
:func:`crc32_partition` is here so tests can show the difference.

Null keys: Kafka 2.4+ is "sticky" (KIP-480): keep sending to one partition until a batch is
closed, then pick another. :class:`StickyPartitioner` does that; the producer tells it when a
batch for the current sticky partition was sealed. Randomness comes in as an argument so the
choice is reproducible in tests.
"""

from __future__ import annotations

import random as _random
import zlib
from collections.abc import Sequence

__all__ = [
    "murmur2",
    "to_positive",
    "default_partition",
    "crc32_partition",
    "StickyPartitioner",
]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 (32-bit) exactly as Kafka's ``Utils.murmur2``; returns a signed int32.

    Args:
        data: the serialized key.

    Returns:
        The hash as Java would hold it in an ``int`` (may be negative).
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    nblocks = length // 4
    for i in range(nblocks):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = (h * _M) & _MASK32
        h ^= k
    tail = length & 3
    base = nblocks * 4
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(n: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not ``abs``)."""
    return n & 0x7FFFFFFF


def default_partition(key: bytes | None, num_partitions: int, *,
                      sticky: StickyPartitioner | None = None, topic: str = "",
                      available: Sequence[int] | None = None) -> int:
    """The partition Kafka's default partitioner picks.

    Args:
        key: serialized key; None means "no key".
        num_partitions: partition count of the topic (> 0).
        sticky: state for null keys; without it null keys go round robin per call through a
            fresh sticky partitioner (i.e. a random partition).
        topic: topic name, needed only for the sticky state.
        available: partitions that currently have a leader (null keys prefer those).

    Raises:
        ValueError: ``num_partitions`` is not positive.
    """
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, not {num_partitions}")
    if key is not None:
        return to_positive(murmur2(key)) % num_partitions
    if sticky is None:
        sticky = StickyPartitioner()
    return sticky.partition(topic, num_partitions, available)


def crc32_partition(key: bytes, num_partitions: int) -> int:
    """librdkafka's ``consistent`` hash: zlib CRC-32 of the key modulo the partition count."""
    return zlib.crc32(key) % num_partitions


class StickyPartitioner:
    """KIP-480 sticky choice for records without a key.

    One "current" partition per topic; :meth:`on_new_batch` moves to a different partition (among
    those with a leader when known) once the producer seals a batch for the current one. This
    keeps batches large under low throughput, which is the point of KIP-480.
    """

    def __init__(self, rng: _random.Random | None = None):
        self._rng = rng or _random.Random()
        self._current: dict[str, int] = {}

    def partition(self, topic: str, num_partitions: int,
                  available: Sequence[int] | None = None) -> int:
        """The sticky partition of ``topic``, choosing one on first use."""
        current = self._current.get(topic)
        if current is None or current >= num_partitions:
            current = self._choose(num_partitions, available, exclude=None)
            self._current[topic] = current
        return current

    def on_new_batch(self, topic: str, num_partitions: int, previous: int,
                     available: Sequence[int] | None = None) -> None:
        """Called when the batch of ``previous`` was sealed: stick to another partition."""
        if self._current.get(topic) == previous:
            self._current[topic] = self._choose(num_partitions, available, exclude=previous)

    def _choose(self, num_partitions: int, available: Sequence[int] | None,
                exclude: int | None) -> int:
        candidates = [p for p in (available or ()) if p < num_partitions]
        if not candidates:
            candidates = list(range(num_partitions))
        if exclude is not None and len(candidates) > 1:
            candidates = [p for p in candidates if p != exclude]
        return self._rng.choice(candidates)
