"""ListPartitionReassignments (key 46), v0 (flexible): the reassignments in progress (KIP-455).

Only the active controller knows them; any other broker answers a top-level NOT_CONTROLLER.
Null ``topics`` lists every ongoing reassignment; otherwise only the named partitions that
are being reassigned are returned. Partitions that are not moving, and unknown topics or
partitions, are simply absent, as in Kafka. Each entry carries the full replica set (target
first, then the original replicas being removed) with the adding and removing subsets.

Authorization: Describe on the cluster, checked first; else a top-level
CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsResponse,
    OngoingPartitionReassignment,
    OngoingTopicReassignment,
)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler


def _error_response(_request, _version: int, error: KafkaError
                    ) -> ListPartitionReassignmentsResponse:
    return _top_level(type(error), error.message)


def _top_level(error: type[KafkaError], message: str | None = None
               ) -> ListPartitionReassignmentsResponse:
    return ListPartitionReassignmentsResponse(
        throttle_time_ms=0, error_code=error.code,
        error_message=message or error.default_message(), topics=())


@handler(ApiKey.LIST_PARTITION_REASSIGNMENTS, versions=(0, 0), error_response=_error_response)
async def handle_list_partition_reassignments(ctx, req):
    authz.require_cluster(ctx, AclOperation.DESCRIBE)
    controller = ctx.broker.controller
    if controller is None:
        return _top_level(errors.NotController)
    wanted = None if req.topics is None else list(dict.fromkeys(
        TopicPartition(t.name, p) for t in req.topics for p in t.partition_indexes))
    ongoing = controller.list_reassignments(wanted)
    topics: dict[str, list[OngoingPartitionReassignment]] = {}
    for tp in sorted(ongoing):
        replicas, adding, removing = ongoing[tp]
        topics.setdefault(tp.topic, []).append(OngoingPartitionReassignment(
            partition_index=tp.partition, replicas=tuple(replicas),
            adding_replicas=tuple(adding), removing_replicas=tuple(removing)))
    return ListPartitionReassignmentsResponse(
        throttle_time_ms=0, error_code=0, error_message=None,
        topics=tuple(OngoingTopicReassignment(name=name, partitions=tuple(parts))
                     for name, parts in topics.items()))
