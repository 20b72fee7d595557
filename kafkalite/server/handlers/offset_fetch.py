"""OffsetFetch (key 9), v0–7 (flexible from 6).

v0 reads ZooKeeper's ``/consumers/<group>/offsets/<topic>/<partition>`` on any broker: a
missing node answers offset -1, metadata "" and UNKNOWN_TOPIC_OR_PARTITION, as Kafka did.
v1+ ask the group coordinator: a partition without a commit answers -1 / "" / NONE. v1 reports
coordinator errors per partition; v2+ at the top level (and null topics = every committed
partition); v3 throttle; v5 committed leader epoch; v7 RequireStable (KIP-447): a partition
whose commit is in flight or part of an undecided transaction answers UNSTABLE_OFFSET_COMMIT,
which the consumer retries. v8 (several groups) is not advertised.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.offset_fetch import (
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic)
from kafkalite.server.dispatch import handler


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
    if version == 0:
        out = {}
        for tp in wanted or []:
            offset = await ctx.broker.zk.get_consumer_offset(req.group_id, tp.topic,
                                                             tp.partition)
            out[tp] = ((offset, -1, "", None) if offset is not None
                       else (-1, -1, "", errors.UnknownTopicOrPartition))
        return _response(version, out)
    svc = ctx.broker.coordinator
    r = svc.fetch_offsets(req.group_id, wanted,
                          require_stable=version >= 7 and req.require_stable) \
        if svc is not None else None
    error = errors.CoordinatorNotAvailable if r is None else r.error
    if error is not None:
        if version >= 2:
            return _response(version, {}, error)
        return _response(version, {tp: (-1, -1, "", error) for tp in wanted or []})
    return _response(version, {tp: (o.offset, o.leader_epoch, o.metadata, o.error)
                               for tp, o in r.offsets.items()})
