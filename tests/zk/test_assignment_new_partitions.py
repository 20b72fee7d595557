"""Placement of partitions added to an existing topic (Kafka's AdminZkClient rule)."""

from __future__ import annotations

import pytest

from kafkalite.errors import (BrokerNotAvailable, InvalidPartitions, InvalidReplicaAssignment,
                              InvalidReplicationFactor, UnknownServerError)
from kafkalite.zk.assignment import assign_new_partitions, assign_replicas


def test_growing_continues_the_creation_pattern() -> None:
    # A topic created with start index 1 (and the same shift) grown from 3 to 7 partitions
    # looks as if it had been created with 7.
    created = assign_replicas([0, 1, 2], 7, 2, start_index=1, shift=1)
    existing = {p: created[p] for p in range(3)}
    added = assign_new_partitions("t", existing, [2, 0, 1], 7)
    assert added == {p: created[p] for p in range(3, 7)}


def test_start_is_the_first_broker_at_or_after_partition_0_leader() -> None:
    # Brokers sorted: [10, 20, 30]; partition 0 led by 20 -> start index 1, shift 1:
    # partition p is led by brokers[(p + 1) % 3].
    added = assign_new_partitions("t", {0: [20, 30]}, [30, 10, 20], 3)
    assert added == {1: [30, 20], 2: [10, 30]}
    # The preferred leader of partition 0 is gone: the next higher id takes its place ...
    assert assign_new_partitions("t", {0: [25]}, [10, 20, 30], 2) == {1: [10]}
    # ... or the first broker when there is none higher.
    assert assign_new_partitions("t", {0: [99]}, [10, 20, 30], 2) == {1: [20]}


def test_replication_factor_is_partition_0s() -> None:
    added = assign_new_partitions("t", {0: [0, 1, 2], 1: [1, 2, 0]}, [0, 1, 2, 3], 4)
    assert sorted(added) == [2, 3]
    assert all(len(r) == 3 and len(set(r)) == 3 for r in added.values())


def test_explicit_assignment_is_validated_and_kept() -> None:
    existing = {0: [0], 1: [1], 2: [2]}
    assert assign_new_partitions("t", existing, [0, 1, 2], 5, {3: [2], 4: [0]}) == {
        3: [2], 4: [0]}
    with pytest.raises(InvalidReplicaAssignment,
                       match=r"^Duplicate brokers not allowed in replica assignment: 1, 1 for "
                             r"partition id 3\.$"):
        assign_new_partitions("t", existing, [0, 1, 2], 4, {3: [1, 1]})
    with pytest.raises(InvalidReplicaAssignment,
                       match=r"^Cannot have replication factor of 0 for partition id 3\.$"):
        assign_new_partitions("t", existing, [0, 1, 2], 4, {3: []})
    with pytest.raises(InvalidReplicaAssignment) as e:
        assign_new_partitions("t", existing, [0, 1, 2], 5, {3: [1], 4: [1, 0]})
    assert str(e.value) == ("Inconsistent replication factor between partitions, partition 0 "
                            "has 1 while partitions [4] have replication factors [2], "
                            "respectively.")
    with pytest.raises(BrokerNotAvailable) as e:
        assign_new_partitions("t", existing, [0, 1, 2], 4, {3: [12]})
    assert str(e.value) == ("Some brokers specified for partition id 3 are not available. "
                            "Specified brokers: 12, available brokers: 0, 1, 2.")


def test_not_an_increase() -> None:
    for count in (3, 2, -22):
        with pytest.raises(InvalidPartitions) as e:
            assign_new_partitions("orders", {0: [0], 1: [0], 2: [0]}, [0], count)
        assert str(e.value) == ("The number of partitions for a topic can only be increased. "
                                f"Topic orders currently has 3 partitions, {count} would not "
                                "be an increase.")


def test_other_errors() -> None:
    with pytest.raises(InvalidReplicationFactor, match="larger than available brokers: 2"):
        assign_new_partitions("t", {0: [0, 1, 2]}, [0, 1], 2)
    with pytest.raises(UnknownServerError, match="partition id 0 is missing"):
        assign_new_partitions("t", {1: [0]}, [0], 3)
