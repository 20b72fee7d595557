"""AlterPartitionReassignments (key 45), v0 (flexible): start or cancel reassignments (KIP-455).

Only the active controller answers; any other broker fails the whole request with a top-level
NOT_CONTROLLER and no partition results, as ZooKeeper-mode Kafka does, so clients look the
controller up again and retry.

The request's shape is checked here, before anything reaches the controller's event queue:
a partition named twice, an empty replica list, a broker listed twice or a negative broker id
is INVALID_REPLICA_ASSIGNMENT for that partition only, and the rest of the request still runs.
What needs cluster state (unknown partitions, brokers that are not alive, cancelling when no
reassignment is in progress) is the controller's decision. A null replica list cancels.

``timeout_ms`` is not waited on: the answer comes once each reassignment has *started* (its
target is recorded in ``/brokers/topics/<t>``), not when data has moved, exactly like Kafka.
Per-partition errors carry the controller's message, or the error's default message when it
gave none (Kafka's ``ApiError``); successes carry a null message.

Authorization: Alter on the cluster, checked first; else a top-level
CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsResponse,
    ReassignablePartitionResponse,
    ReassignableTopicResponse,
)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler

Outcome = tuple[type[KafkaError] | None, str | None]


def _error_response(_request, _version: int, error: KafkaError
                    ) -> AlterPartitionReassignmentsResponse:
    return _top_level(type(error), error.message)


def _top_level(error: type[KafkaError], message: str | None = None
               ) -> AlterPartitionReassignmentsResponse:
    return AlterPartitionReassignmentsResponse(
        throttle_time_ms=0, error_code=error.code,
        error_message=message or error.default_message(), responses=())


def check_replicas(replicas: Sequence[int]) -> str | None:
    """Why ``replicas`` cannot be a reassignment target (Kafka's wording), or None if it can."""
    if not replicas:
        return "Empty replica list specified in partition reassignment."
    if len(set(replicas)) != len(replicas):
        return ("Duplicate replica ids in partition reassignment replica list: "
                f"{list(replicas)}")
    if any(r < 0 for r in replicas):
        return f"Invalid broker id in replica list: {list(replicas)}"
    return None


@handler(ApiKey.ALTER_PARTITION_REASSIGNMENTS, versions=(0, 0), error_response=_error_response)
async def handle_alter_partition_reassignments(ctx, req):
    authz.require_cluster(ctx, AclOperation.ALTER)
    controller = ctx.broker.controller
    if controller is None:
        return _top_level(errors.NotController)
    requested = [(TopicPartition(t.name, p.partition_index), p.replicas)
                 for t in req.topics for p in t.partitions]
    times_named = Counter(tp for tp, _ in requested)
    outcomes: dict[TopicPartition, Outcome] = {}
    changes: dict[TopicPartition, tuple[int, ...] | None] = {}
    for tp, replicas in requested:
        if times_named[tp] > 1:
            outcomes[tp] = (errors.InvalidReplicaAssignment,
                            f"Partition {tp} appears more than once in the request.")
            continue
        reason = None if replicas is None else check_replicas(replicas)
        if reason is not None:
            outcomes[tp] = (errors.InvalidReplicaAssignment, reason)
            continue
        changes[tp] = None if replicas is None else tuple(replicas)
    if changes:
        decided = await controller.alter_reassignments(changes)
        for tp in changes:
            outcomes[tp] = decided.get(
                tp, (errors.UnknownServerError, f"The controller returned no result for {tp}."))
    return AlterPartitionReassignmentsResponse(
        throttle_time_ms=0, error_code=0, error_message=None,
        responses=_by_topic([tp for tp, _ in requested], outcomes))


def _by_topic(order: list[TopicPartition], outcomes: dict[TopicPartition, Outcome]
              ) -> tuple[ReassignableTopicResponse, ...]:
    """One entry per topic and partition, in the order the request first named them."""
    topics: dict[str, list[ReassignablePartitionResponse]] = {}
    done: set[TopicPartition] = set()
    for tp in order:
        if tp in done:
            continue
        done.add(tp)
        error, message = outcomes[tp]
        topics.setdefault(tp.topic, []).append(ReassignablePartitionResponse(
            partition_index=tp.partition,
            error_code=error.code if error else 0,
            error_message=(message or error.default_message()) if error else None))
    return tuple(ReassignableTopicResponse(name=name, partitions=tuple(parts))
                 for name, parts in topics.items())
