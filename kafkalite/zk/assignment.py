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

from collections.abc import Mapping, Sequence
from typing import Protocol

from kafkalite.errors import (BrokerNotAvailable, InvalidPartitions, InvalidReplicaAssignment,
                              InvalidReplicationFactor, UnknownServerError)

__all__ = ["assign_replicas", "assign_new_partitions", "check_assignment_size",
           "MAX_ASSIGNMENT_BYTES"]

#: ZooKeeper refuses a znode over ``jute.maxbuffer`` (0xfffff bytes by default) and drops the
#: session of the client that sent it; ``/brokers/topics/<t>`` holds every partition's replicas.
MAX_ASSIGNMENT_BYTES = 0xfffff - 1024


class _Rng(Protocol):
    def randrange(self, stop: int) -> int: ...


def check_assignment_size(num_partitions: int, replication_factor: int,
                          max_broker_id: int) -> None:
    """Refuse a topic whose replica assignment could not be stored in ZooKeeper.

    An upper bound of the JSON ``{"0":[1,2],...}`` for ``num_partitions`` partitions is
    computed without building it, so an absurd count (2**31 - 1 from a client) is refused at
    once instead of exhausting memory. Kafka has no such check: it builds the map, then its
    ZooKeeper write fails.

    Raises:
        InvalidPartitions: the assignment would exceed :data:`MAX_ASSIGNMENT_BYTES`.
    """
    per_partition = (len(str(max(num_partitions - 1, 0))) + 6
                     + max(replication_factor, 1) * (len(str(max_broker_id)) + 1))
    if num_partitions * per_partition > MAX_ASSIGNMENT_BYTES:
        raise InvalidPartitions(
            f"Number of partitions {num_partitions} is too large: the replica assignment "
            f"would not fit in a ZooKeeper znode (jute.maxbuffer).")


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
        InvalidPartitions: num_partitions < 1, or too many to store (check_assignment_size).
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
    check_assignment_size(max(0, start_partition_id) + num_partitions, replication_factor,
                          ids[-1])
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


def assign_new_partitions(topic: str, existing: Mapping[int, Sequence[int]],
                          brokers: Sequence[int], new_count: int,
                          proposed: Mapping[int, Sequence[int]] | None = None,
                          ) -> dict[int, list[int]]:
    """Replicas of the partitions ``len(existing) .. new_count - 1`` added to ``topic``.

    Kafka's AdminZkClient rule: without ``proposed``, the start index is the first (sorted)
    broker whose id is >= partition 0's preferred leader, and it is also the initial shift.
    So the new partitions' preferred leaders continue the round robin that began at
    partition 0 (leadership stays spread after growing), and the placement is deterministic:
    Kafka tools computing it for the same brokers agree with us.

    Args:
        existing: the current assignment (must contain partition 0).
        brokers: registered broker ids (sorted here).
        new_count: the total number of partitions wanted.
        proposed: explicit replicas of the new partitions, keyed by partition id.

    Raises:
        InvalidPartitions: ``new_count`` is not an increase.
        InvalidReplicaAssignment: an empty or duplicate replica list, or a replication factor
            different from partition 0's.
        BrokerNotAvailable: ``proposed`` names brokers that are not registered.
        InvalidReplicationFactor: more replicas than brokers.
    """
    if 0 not in existing:
        raise UnknownServerError(f"Unexpected existing replica assignment for topic '{topic}', "
                                 f"partition id 0 is missing. Assignment: {dict(existing)}")
    partition0 = list(existing[0])
    to_add = new_count - len(existing)
    if to_add <= 0:
        raise InvalidPartitions(f"The number of partitions for a topic can only be increased. "
                                f"Topic {topic} currently has {len(existing)} partitions, "
                                f"{new_count} would not be an increase.")
    ids = sorted(set(brokers))
    if proposed is not None:
        check_assignment_size(new_count, len(partition0), max(ids, default=0))
        _validate_replica_assignment(proposed, len(partition0), set(ids))
        return {p: list(r) for p, r in sorted(proposed.items())}
    start_index = next((i for i, b in enumerate(ids) if b >= partition0[0]), 0)
    return assign_replicas(ids, to_add, len(partition0), start_index=start_index,
                           shift=start_index, start_partition_id=len(existing))


def _validate_replica_assignment(proposed: Mapping[int, Sequence[int]], replication_factor: int,
                                 available: set[int]) -> None:
    for p, replicas in sorted(proposed.items()):
        if not replicas:
            raise InvalidReplicaAssignment(
                f"Cannot have replication factor of 0 for partition id {p}.")
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignment(
                f"Duplicate brokers not allowed in replica assignment: "
                f"{', '.join(map(str, replicas))} for partition id {p}.")
        if not set(replicas) <= available:
            raise BrokerNotAvailable(
                f"Some brokers specified for partition id {p} are not available. "
                f"Specified brokers: {', '.join(map(str, replicas))}, "
                f"available brokers: {', '.join(map(str, sorted(available)))}.")
    bad = [(p, len(r)) for p, r in sorted(proposed.items()) if len(r) != replication_factor]
    if bad:
        raise InvalidReplicaAssignment(
            f"Inconsistent replication factor between partitions, partition 0 has "
            f"{replication_factor} while partitions [{', '.join(str(p) for p, _ in bad)}] have "
            f"replication factors [{', '.join(str(n) for _, n in bad)}], respectively.")
