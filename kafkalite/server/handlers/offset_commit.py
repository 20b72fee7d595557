"""OffsetCommit (key 8), v0–8 (flexible from 8).

v0 stores in ZooKeeper at ``/consumers/<group>/offsets/<topic>/<partition>`` (a decimal
string; the metadata is dropped), on any broker, as Kafka 0.8.1 did (zookeeper-layout.md §4).
v1+ go to the group coordinator, which appends Kafka's offset-commit records to
``__consumer_offsets`` and answers once they are committed. v1 carries GenerationId/MemberId
and a per-partition commit timestamp; v2–4 a retention time; v6 the committed leader epoch;
v7 GroupInstanceId. GenerationId -1 with an empty MemberId is a "simple" commit (no group
management), accepted while the group is Empty. Partitions of unknown topics get
UNKNOWN_TOPIC_OR_PARTITION; metadata longer than ``offset.metadata.max.bytes``
OFFSET_METADATA_TOO_LARGE.

Authorization (Kafka 2.8): Read on the group, else every partition answers
GROUP_AUTHORIZATION_FAILED; Read on each topic, else TOPIC_AUTHORIZATION_FAILED (before the
partition is even looked up).
"""

from __future__ import annotations

import attrs

from kafkalite import errors
from kafkalite.coordinator.results import OffsetCommitEntry
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.zk.errors import ZkError


def _known(ctx, tp: TopicPartition) -> bool:
    return ctx.broker.metadata.partition(tp) is not None


async def _commit_to_zookeeper(ctx, req) -> dict[TopicPartition, type | None]:
    broker = ctx.broker
    max_bytes = broker.config["offset.metadata.max.bytes"]
    out = {}
    for topic in req.topics:
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p.partition_index)
            if not _known(ctx, tp):
                out[tp] = errors.UnknownTopicOrPartition
            elif p.committed_metadata is not None and len(p.committed_metadata) > max_bytes:
                out[tp] = errors.OffsetMetadataTooLarge
            else:
                try:
                    await broker.zk.set_consumer_offset(req.group_id, tp.topic, tp.partition,
                                                        p.committed_offset)
                    out[tp] = None
                except (ValueError, ZkError):
                    # no valid ZooKeeper path for that group id, or ZooKeeper trouble: Kafka
                    # answers Errors.forException for the partition
                    out[tp] = errors.UnknownServerError
    return out


@handler(ApiKey.OFFSET_COMMIT, versions=(0, 8))
async def handle_offset_commit(ctx, req):
    version = ctx.api_version
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return _all_failed(req, errors.GroupAuthorizationFailed)
    allowed = authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    denied = {TopicPartition(t.name, p.partition_index): errors.TopicAuthorizationFailed
              for t in req.topics if t.name not in allowed for p in t.partitions}
    request_topics = req.topics
    if denied:
        req = attrs.evolve(req, topics=[t for t in req.topics if t.name in allowed])
    if version == 0:
        results = await _commit_to_zookeeper(ctx, req)
    else:
        results = {}
        entries = {}
        partition_of = ctx.broker.metadata.partition
        with_epoch, with_timestamp = version >= 6, version == 1
        retention_ms = req.retention_time_ms if 2 <= version <= 4 else -1
        for topic in req.topics:
            for p in topic.partitions:
                tp = TopicPartition(topic.name, p.partition_index)
                if partition_of(tp) is None:
                    results[tp] = errors.UnknownTopicOrPartition
                    continue
                entries[tp] = OffsetCommitEntry(
                    offset=p.committed_offset,
                    leader_epoch=p.committed_leader_epoch if with_epoch else -1,
                    metadata=p.committed_metadata,
                    commit_timestamp_ms=p.commit_timestamp if with_timestamp else -1,
                    retention_ms=retention_ms)
        if entries:
            if svc is None:
                results.update({tp: errors.CoordinatorNotAvailable for tp in entries})
            else:
                results.update(await svc.commit_offsets(
                    req.group_id, req.generation_id_or_member_epoch, req.member_id, entries,
                    group_instance_id=req.group_instance_id if version >= 7 else None))
    results.update(denied)
    return _response(request_topics, results)


def _all_failed(req, error) -> OffsetCommitResponse:
    return _response(req.topics, {TopicPartition(t.name, p.partition_index): error
                                  for t in req.topics for p in t.partitions})


def _response(request_topics, results) -> OffsetCommitResponse:
    topics = []
    for topic in request_topics:
        name = topic.name
        parts = []
        for p in topic.partitions:
            error = results.get(TopicPartition(name, p.partition_index))
            parts.append(OffsetCommitResponsePartition(partition_index=p.partition_index,
                                                       error_code=error.code if error else 0))
        topics.append(OffsetCommitResponseTopic(name=name, partitions=parts))
    return OffsetCommitResponse(throttle_time_ms=0, topics=topics)
