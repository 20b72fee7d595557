"""ListOffsets (key 2), v0–7 (flexible from 6).

v0 (still used by tools such as Burrow) answers a list of offsets instead of one: for -1 the
high watermark followed by the base offsets of older segments, newest first; for -2 the log
start offset; for a timestamp the base offsets of segments that start at or before the first
offset with that timestamp — at most MaxNumOffsets entries, as Kafka's fetchOffsetsBefore.

Timestamp -1 = latest (the high watermark; consumers never see past it; with IsolationLevel 1,
v2+, the last stable offset: read_committed consumers never read past that), -2 = earliest (log
start offset), -3 = the record with the largest timestamp (v7+), otherwise the first record
(in offset order) whose timestamp is >= the target and below that limit, with its timestamp and
its batch's leader epoch, or offset -1 / timestamp -1 when there is none; timestamps need not
grow with offsets (see ``Log.fetch_offset_by_timestamp``). Only the leader answers. Each topic
needs Describe (else TOPIC_AUTHORIZATION_FAILED), as in Kafka.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse)
from kafkalite.replication.service import DEBUGGING_CONSUMER_ID
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler

LATEST, EARLIEST, MAX_TIMESTAMP = -1, -2, -3


def _lookup(p, timestamp: int, replica_id: int, read_committed: bool) -> tuple[int, int, int]:
    """(timestamp, offset, leader epoch) of one v1+ answer."""
    # A follower (replica_id >= 0) asks for the leader's log end, a consumer for what it may
    # read: the HW, or the LSO under read_committed (Kafka's lastFetchableOffset).
    limit = p.log_end_offset if replica_id >= 0 else \
        p.last_stable_offset if read_committed else p.high_watermark
    if timestamp == LATEST:
        return -1, limit, p.leader_epoch
    if timestamp == EARLIEST:
        return -1, p.log_start_offset, p.leader_epoch
    if timestamp == MAX_TIMESTAMP:
        found = p.log.max_timestamp_and_offset()
        return (found[0], found[1], p.leader_epoch) if found else (-1, -1, -1)
    found = p.log.fetch_offset_by_timestamp(timestamp)
    if found is None or found.offset >= limit:
        return -1, -1, -1
    # Kafka answers the epoch of the batch holding the record (none: -1).
    return found.timestamp, found.offset, found.leader_epoch


def _old_style(p, timestamp: int, max_num: int) -> list[int]:
    bases = sorted((seg.base_offset for seg in p.log.segments), reverse=True)
    if timestamp == LATEST:
        out = [p.high_watermark] + [b for b in bases if b < p.high_watermark]
    elif timestamp == EARLIEST:
        out = [p.log_start_offset]
    else:
        found = p.log.fetch_offset_by_timestamp(timestamp)
        limit = found.offset if found else p.high_watermark
        out = [max(b, p.log_start_offset) for b in bases if b <= limit]
    return out[:max(max_num, 0)]


@handler(ApiKey.LIST_OFFSETS, versions=(0, 7))
async def handle_list_offsets(ctx, req):
    rm = ctx.broker.replica_manager
    allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    topics = []
    for topic in req.topics:
        out = []
        for part in topic.partitions:
            tp = TopicPartition(topic.name, part.partition_index)
            p = rm.get_partition(tp)
            err = None
            if topic.name not in allowed:
                err = errors.TopicAuthorizationFailed
            elif p is None:
                err = rm.missing_partition_error(tp)
            elif not p.is_leader and req.replica_id != DEBUGGING_CONSUMER_ID:
                err = errors.NotLeaderOrFollower
            elif part.current_leader_epoch >= 0 and part.current_leader_epoch != p.leader_epoch:
                err = (errors.FencedLeaderEpoch if part.current_leader_epoch < p.leader_epoch
                       else errors.UnknownLeaderEpoch)
            elif part.timestamp == MAX_TIMESTAMP and ctx.api_version < 7:
                err = errors.UnsupportedVersion
            if err is not None:
                out.append(ListOffsetsPartitionResponse(
                    partition_index=part.partition_index, error_code=err.code, timestamp=-1,
                    offset=-1, leader_epoch=-1))
                continue
            if ctx.api_version == 0:
                out.append(ListOffsetsPartitionResponse(
                    partition_index=part.partition_index, error_code=0,
                    old_style_offsets=_old_style(p, part.timestamp, part.max_num_offsets)))
                continue
            ts, offset, epoch = _lookup(p, part.timestamp, req.replica_id,
                                        ctx.api_version >= 2 and req.isolation_level == 1)
            out.append(ListOffsetsPartitionResponse(
                partition_index=part.partition_index, error_code=0, timestamp=ts, offset=offset,
                leader_epoch=epoch))
        topics.append(ListOffsetsTopicResponse(name=topic.name, partitions=out))
    return ListOffsetsResponse(throttle_time_ms=0, topics=topics)
