"""OffsetFetch (key 9), v0–7 (flexible from 6).

v0 reads ZooKeeper's ``/consumers/<group>/offsets/<topic>/<partition>`` on any broker: a
partition the broker does not know or a missing node answers offset -1, metadata "" and
UNKNOWN_TOPIC_OR_PARTITION, as Kafka did; a group id that makes no valid ZooKeeper path answers
UNKNOWN_SERVER_ERROR for the partition (Kafka's ``Errors.forException``).
v1+ ask the group coordinator: a partition without a commit answers -1 / "" / NONE. v1 reports
coordinator errors per partition; v2+ at the top level (and null topics = every committed
partition); v3 throttle; v5 committed leader epoch; v7 RequireStable (KIP-447): a partition
whose commit is in flight or part of an undecided transaction answers UNSTABLE_OFFSET_COMMIT,
which the consumer retries. v8 (several groups) is not advertised.

Authorization (Kafka 2.8): Describe on the group, else GROUP_AUTHORIZATION_FAILED (top level
from v2, per partition before); partitions of topics the principal may not Describe answer
TOPIC_AUTHORIZATION_FAILED (offset -1), and are left out when all partitions are asked for.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.offset_fetch import (
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.zk.errors import ZkError


def _response(version: int, per_partition: dict, error=None) -> OffsetFetchResponse:
    by_topic: dict[str, list] = {}
    for tp, (offset, epoch, metadata, err) in per_partition.items():
        by_topic.setdefault(tp.topic, []).append(OffsetFetchResponsePartition(
            partition_index=tp.partition, committed_offset=offset, committed_leader_epoch=epoch,
            metadata=metadata, error_code=err.code if err else 0))
    return OffsetFetchResponse(
        throttle_time_ms=0, error_code=error.code if error else 0,
        topics=[OffsetFetchResponseTopic(name=t, partitions=ps) for t, ps in by_topic.items()])


def _requested(req) -> list[TopicPartition] | None:
    if req.topics is None:
        return None
    return [TopicPartition(t.name, p) for t in req.topics for p in t.partition_indexes]


@handler(ApiKey.OFFSET_FETCH, versions=(0, 7))
async def handle_offset_fetch(ctx, req):
    version = ctx.api_version
    wanted = _requested(req)
    if not authz.authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, req.group_id):
        return _failed(version, wanted, errors.GroupAuthorizationFailed)
    unauthorized = {}
    if authz.enabled(ctx) and wanted is not None:
        wanted, denied = authz.partition_authorized(ctx, AclOperation.DESCRIBE,
                                                    ResourceType.TOPIC, wanted, _topic)
        unauthorized = {tp: (-1, -1, "", errors.TopicAuthorizationFailed) for tp in denied}
    if version == 0:
        out = {}
        for tp in wanted or []:
            if ctx.broker.metadata.partition(tp) is None:
                out[tp] = (-1, -1, "", errors.UnknownTopicOrPartition)
                continue
            try:
                offset = await ctx.broker.zk.get_consumer_offset(req.group_id, tp.topic,
                                                                 tp.partition)
            except (ValueError, ZkError):
                # a group id that makes no ZooKeeper path (".", "..", "a//b"), an unreadable
                # node, ZooKeeper trouble: Kafka answers Errors.forException per partition
                out[tp] = (-1, -1, "", errors.UnknownServerError)
                continue
            out[tp] = ((offset, -1, "", None) if offset is not None
                       else (-1, -1, "", errors.UnknownTopicOrPartition))
        return _response(version, {**out, **unauthorized})
    svc = ctx.broker.coordinator
    r = svc.fetch_offsets(req.group_id, wanted,
                          require_stable=version >= 7 and req.require_stable) \
        if svc is not None else None
    error = errors.CoordinatorNotAvailable if r is None else r.error
    if error is not None:
        return _failed(version, _requested(req), error)
    offsets = r.offsets
    if wanted is None and authz.enabled(ctx):
        # All partitions: offsets of topics the principal may not Describe are not shown.
        allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC,
                                          {tp.topic for tp in offsets})
        offsets = {tp: o for tp, o in offsets.items() if tp.topic in allowed}
    return _response(version, {**{tp: (o.offset, o.leader_epoch, o.metadata, o.error)
                                  for tp, o in offsets.items()}, **unauthorized})


def _topic(tp: TopicPartition) -> str:
    return tp.topic


def _failed(version: int, wanted: list[TopicPartition] | None, error) -> OffsetFetchResponse:
    """Kafka's ``OffsetFetchRequest.getErrorResponse``: top-level from v2, per partition before."""
    if version >= 2:
        return _response(version, {}, error)
    return _response(version, {tp: (-1, -1, "", error) for tp in wanted or []})
