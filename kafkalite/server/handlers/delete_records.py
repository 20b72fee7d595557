"""DeleteRecords (key 21), v0–2 (v1 same as v0, flexible from 2).

Moves each partition's log start offset forward to the requested offset (-1 = the high
watermark), as Kafka's ``Partition.deleteRecordsOnLeader`` does; the records below become
unreadable at once (Fetch/ListOffsets use the log start offset) and the segments wholly below
it are removed by the next retention check (``server/log_service.py``). The answer's
``low_watermark`` is the new log start offset.

Per-partition errors, Kafka's: the topic does not exist → UNKNOWN_TOPIC_OR_PARTITION; this
broker is not the leader → NOT_LEADER_OR_FOLLOWER; an internal topic → INVALID_TOPIC_EXCEPTION;
``cleanup.policy`` without ``delete`` → POLICY_VIOLATION; an offset below -1 or above the high
watermark → OFFSET_OUT_OF_RANGE. Kafka also waits (up to ``timeout_ms``) until every follower's
log start offset reached the new one; this broker has no followers that report it yet, so the
leader's value is the low watermark and the answer is immediate.

Authorization: Delete on each topic, else TOPIC_AUTHORIZATION_FAILED (low watermark -1).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import INTERNAL_TOPICS, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_records import (
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler

HIGH_WATERMARK = -1


def _delete_records(broker, tp: TopicPartition, offset: int
                    ) -> tuple[type[KafkaError] | None, int]:
    """``(error, low_watermark)`` of one partition's request."""
    p = broker.replica_manager.get_partition(tp)
    if p is None:
        return broker.replica_manager.missing_partition_error(tp), -1
    if not p.is_leader:
        return errors.NotLeaderOrFollower, -1
    if tp.topic in INTERNAL_TOPICS:
        return errors.InvalidTopicException, -1
    if "delete" not in p.log.config.cleanup_policy.split(","):
        return errors.PolicyViolation, -1
    target = p.high_watermark if offset == HIGH_WATERMARK else offset
    if target < 0 or target > p.high_watermark:
        return errors.OffsetOutOfRange, -1
    p.log.maybe_increment_log_start_offset(target, reason="client delete records request")
    return None, p.log_start_offset


@handler(ApiKey.DELETE_RECORDS, versions=(0, 2))
async def handle_delete_records(ctx, req):
    allowed = authz.filter_authorized(ctx, AclOperation.DELETE, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    topics = []
    for topic in req.topics:
        results = []
        for part in topic.partitions:
            if topic.name not in allowed:
                error, low_watermark = errors.TopicAuthorizationFailed, -1
            else:
                error, low_watermark = _delete_records(
                    ctx.broker, TopicPartition(topic.name, part.partition_index), part.offset)
            results.append(DeleteRecordsPartitionResult(
                partition_index=part.partition_index, low_watermark=low_watermark,
                error_code=error.code if error else 0))
        topics.append(DeleteRecordsTopicResult(name=topic.name, partitions=results))
    return DeleteRecordsResponse(throttle_time_ms=0, topics=topics)
