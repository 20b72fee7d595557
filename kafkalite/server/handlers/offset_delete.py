"""OffsetDelete (key 47), v0 (KIP-496).

Deletes a group's committed offsets for partitions it does not consume: any partition of an
Empty group; for an active consumer group only topics none of its members subscribes to
(GROUP_SUBSCRIBED_TO_TOPIC otherwise). Partitions of unknown topics get
UNKNOWN_TOPIC_OR_PARTITION; an unknown group GROUP_ID_NOT_FOUND.

Authorization (Kafka 2.8): Delete on the group, else GROUP_AUTHORIZATION_FAILED (top level);
Read on each topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.offset_delete import (
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.OFFSET_DELETE, versions=(0, 0))
async def handle_offset_delete(ctx, req):
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.DELETE, ResourceType.GROUP, req.group_id):
        return OffsetDeleteResponse(error_code=errors.GroupAuthorizationFailed.code,
                                    throttle_time_ms=0)
    allowed = authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    results: dict[TopicPartition, type | None] = {}
    wanted = []
    for t in req.topics:
        for p in t.partitions:
            tp = TopicPartition(t.name, p.partition_index)
            if t.name not in allowed:
                results[tp] = errors.TopicAuthorizationFailed
            elif ctx.broker.metadata.partition(tp) is None:
                results[tp] = errors.UnknownTopicOrPartition
            else:
                wanted.append(tp)
    if svc is None:
        return OffsetDeleteResponse(error_code=errors.CoordinatorNotAvailable.code,
                                    throttle_time_ms=0)
    r = await svc.delete_offsets(req.group_id, wanted)
    if r.error is not None:
        return OffsetDeleteResponse(error_code=r.error.code, throttle_time_ms=0)
    results.update(r.partitions)
    topics = []
    for t in req.topics:
        parts = []
        for p in t.partitions:
            error = results.get(TopicPartition(t.name, p.partition_index))
            parts.append(OffsetDeleteResponsePartition(partition_index=p.partition_index,
                                                       error_code=error.code if error else 0))
        topics.append(OffsetDeleteResponseTopic(name=t.name, partitions=parts))
    return OffsetDeleteResponse(error_code=0, throttle_time_ms=0, topics=topics)
