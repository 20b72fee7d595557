"""CreatePartitions' per-topic decision (pure): Kafka's checks, order and messages.

The handler around it (ZooKeeper write, waiting for leaders, NOT_CONTROLLER, topics queued
for deletion) runs against a real ZooKeeper and brokers in
integration/test_admin_partitions.py.
"""

from __future__ import annotations

import pytest

from kafkalite import errors
from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.messages.create_partitions import (
    CreatePartitionsResponse, CreatePartitionsTopicResult)
from kafkalite.server.handlers.create_partitions import plan_new_partitions
from kafkalite.zk.znodes import TopicAssignment

THREE = TopicAssignment(partitions={0: (0,), 1: (1,), 2: (2,)}, zk_version=4)
BROKERS = [0, 1, 2]


def fails(error, message, *args):
    with pytest.raises(error) as e:
        plan_new_partitions(*args)
    assert str(e.value) == message


def test_topic_checks() -> None:
    fails(errors.UnknownTopicOrPartition, "The topic 'an-unknown-topic' does not exist.",
          "an-unknown-topic", None, BROKERS, 2, None)
    moving = TopicAssignment(partitions={0: (0, 1)}, adding={0: (1,)})
    fails(errors.ReassignmentInProgress,
          "A partition reassignment is in progress for the topic 't'.",
          "t", moving, BROKERS, 2, None)


def test_count_must_increase() -> None:
    fails(errors.InvalidPartitions, "Topic currently has 3 partitions, which is higher than "
          "the requested 2.", "t", THREE, BROKERS, 2, None)
    fails(errors.InvalidPartitions, "Topic currently has 3 partitions, which is higher than "
          "the requested -22.", "t", THREE, BROKERS, -22, None)
    fails(errors.InvalidPartitions, "Topic already has 3 partitions.",
          "t", THREE, BROKERS, 3, None)
    # even with an assignment that matches the current one
    fails(errors.InvalidPartitions, "Topic already has 3 partitions.",
          "t", THREE, BROKERS, 3, [[0], [1], [2]])


def test_explicit_assignments() -> None:
    fails(errors.InvalidReplicaAssignment, "Unknown broker(s) in replica assignment: 12.",
          "t", THREE, BROKERS, 4, [[12]])
    fails(errors.InvalidReplicaAssignment,
          "Increasing the number of partitions by 3 but 1 assignments provided.",
          "t", THREE, BROKERS, 6, [[1]])
    fails(errors.InvalidReplicaAssignment,
          "Increasing the number of partitions by 1 but 2 assignments provided.",
          "t", THREE, BROKERS, 4, [[1], [2]])
    fails(errors.InvalidReplicaAssignment,
          "Increasing the number of partitions by 1 but 0 assignments provided.",
          "t", THREE, BROKERS, 4, [])
    fails(errors.InvalidReplicaAssignment,
          "Duplicate brokers not allowed in replica assignment: 1, 1 for partition id 3.",
          "t", THREE, BROKERS, 4, [[1, 1]])
    fails(errors.InvalidReplicaAssignment,
          "Inconsistent replication factor between partitions, partition 0 has 1 while "
          "partitions [3] have replication factors [2], respectively.",
          "t", THREE, BROKERS, 4, [[1, 2]])
    fails(errors.InvalidReplicaAssignment,
          "Inconsistent replication factor between partitions, partition 0 has 1 while "
          "partitions [4] have replication factors [2], respectively.",
          "t", THREE, BROKERS, 5, [[1], [1, 0]])
    assert plan_new_partitions("t", THREE, BROKERS, 5, [[2], [0]]) == {3: [2], 4: [0]}


def test_placement_without_assignments() -> None:
    # partition 0 led by broker 0 -> start index 0: leaders continue round robin
    assert plan_new_partitions("t", THREE, BROKERS, 6, None) == {3: [0], 4: [1], 5: [2]}
    rf2 = TopicAssignment(partitions={0: (1, 2), 1: (2, 0)})
    added = plan_new_partitions("t", rf2, [0, 1, 2], 4, None)
    assert [r[0] for _, r in sorted(added.items())] == [0, 1]
    assert all(len(set(r)) == 2 for r in added.values())
    fails(errors.InvalidReplicationFactor, "Replication factor: 2 larger than available "
          "brokers: 1.", "t", rf2, [0], 4, None)


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_response_encodes_at_every_version(version: int) -> None:
    response = CreatePartitionsResponse(throttle_time_ms=0, results=(
        CreatePartitionsTopicResult(name="a", error_code=0, error_message=None),
        CreatePartitionsTopicResult(name="b", error_code=37,
                                    error_message="Topic already has 3 partitions.")))
    assert decode(CreatePartitionsResponse, version, encode(response, version)) == response


def test_request_level_error_response() -> None:
    from kafkalite.protocol.messages.create_partitions import (
        CreatePartitionsRequest, CreatePartitionsTopic)
    from kafkalite.server.handlers.create_partitions import _error_response

    req = CreatePartitionsRequest(topics=(
        CreatePartitionsTopic(name="a", count=2, assignments=None),
        CreatePartitionsTopic(name="a", count=3, assignments=None),
        CreatePartitionsTopic(name="b", count=2, assignments=None)), timeout_ms=1,
        validate_only=False)
    response = _error_response(req, 3, errors.NotController())
    assert [(r.name, r.error_code, r.error_message) for r in response.results] == [
        ("a", 41, "This is not the correct controller for this cluster."),
        ("b", 41, "This is not the correct controller for this cluster.")]
