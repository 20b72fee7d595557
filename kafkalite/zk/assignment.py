"""Replica assignment for new topics and partitions (Kafka's rack-unaware AdminUtils rule).

Layout doc §6.10. Why this exact rule rather than any round robin: Kafka tools and operators
expect its shape — leaders (first replicas) spread evenly from a random start broker, and the
follower "shift" grows by one every full round of brokers so that replica sets of consecutive
rounds differ (a broker's followers are not always the same neighbours).

For sorted brokers ``B`` (n = len(B)), a start index and an initial shift, partition ``p``:

* ``shift += 1`` whenever ``p > 0`` and ``p % n == 0``;
* first replica ``B[(p + start_index) % n]``;
* replica ``j >= 1``: ``B[(first + 1 + (shift + j - 1) % (n - 1)) % n]``.

Pure (L2): randomness comes in as ``rng`` (anything with ``randrange``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kafkalite.errors import InvalidPartitions, InvalidReplicationFactor

__all__ = ["assign_replicas"]


class _Rng(Protocol):
    def randrange(self, stop: int) -> int: ...


def assign_replicas(brokers: Sequence[int], num_partitions: int, replication_factor: int, *,
                    start_index: int | None = None, shift: int | None = None,
                    rng: _Rng | None = None, start_partition_id: int = 0,
                    ) -> dict[int, list[int]]:
    """Assign ``replication_factor`` distinct brokers to each of ``num_partitions`` partitions.

    Args:
        brokers: live broker ids (any order; sorted here, as Kafka does).
        num_partitions: how many partitions to assign.
        replication_factor: replicas per partition.
        start_index: index (into the sorted brokers) of partition 0's leader; random if None.
        shift: initial follower shift; random if None.
        rng: source of randomness, required when start_index or shift is None.
        start_partition_id: number of the first partition assigned (adding partitions to
            an existing topic continues the pattern from there).

    Returns:
        ``{partition: [replica, ...]}``, first replica = preferred leader.

    Raises:
        InvalidPartitions: num_partitions < 1.
        InvalidReplicationFactor: replication_factor < 1 or more than the number of brokers.
    """
    if num_partitions < 1:
        raise InvalidPartitions(f"Number of partitions must be larger than 0, "
                                f"got {num_partitions}.")
    if replication_factor < 1:
        raise InvalidReplicationFactor(f"Replication factor must be larger than 0, "
                                       f"got {replication_factor}.")
    ids = sorted(set(brokers))
    n = len(ids)
    if replication_factor > n:
        raise InvalidReplicationFactor(f"Replication factor: {replication_factor} larger than "
                                       f"available brokers: {n}.")
    if (start_index is None or shift is None) and rng is None:
        raise ValueError("pass rng, or both start_index and shift")
    if start_index is None:
        start_index = rng.randrange(n)  # type: ignore[union-attr]
    if shift is None:
        shift = rng.randrange(n)  # type: ignore[union-attr]

    result: dict[int, list[int]] = {}
    partition = max(0, start_partition_id)
    for _ in range(num_partitions):
        if partition > 0 and partition % n == 0:
            shift += 1
        first = (partition + start_index) % n
        replicas = [ids[first]]
        for j in range(replication_factor - 1):
            replicas.append(ids[(first + 1 + (shift + j) % (n - 1)) % n])
        result[partition] = replicas
        partition += 1
    return result
