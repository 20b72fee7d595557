"""OffsetCommit (key 8): store consumed offsets for a group.

v0 ZooKeeper storage; v1 generation/member and commit timestamp; v2-4 retention time; v3
throttle; v6 committed leader epoch; v7 group instance id; v8 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class OffsetCommitRequestPartition:
    partition_index: int = wire(INT32)
    committed_offset: int = wire(INT64)
    committed_leader_epoch: int = wire(INT32, versions="6+", default=-1)
    commit_timestamp: int = wire(INT64, versions="1", default=-1)
    committed_metadata: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class OffsetCommitRequestTopic:
    name: str = wire(STRING)
    partitions: tuple[OffsetCommitRequestPartition, ...] = wire(
        Array(OffsetCommitRequestPartition)
    )


@attrs.frozen(kw_only=True)
class OffsetCommitResponsePartition:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class OffsetCommitResponseTopic:
    name: str = wire(STRING)
    partitions: tuple[OffsetCommitResponsePartition, ...] = wire(
        Array(OffsetCommitResponsePartition)
    )


@message(api_key=ApiKey.OFFSET_COMMIT, kind="request", versions="0-8", flexible="8+")
@attrs.frozen(kw_only=True)
class OffsetCommitRequest:
    group_id: str = wire(STRING)
    generation_id_or_member_epoch: int = wire(INT32, versions="1+", default=-1)
    member_id: str = wire(STRING, versions="1+")
    group_instance_id: str | None = wire(STRING, versions="7+", nullable="7+")
    retention_time_ms: int = wire(INT64, versions="2-4", default=-1)
    topics: tuple[OffsetCommitRequestTopic, ...] = wire(Array(OffsetCommitRequestTopic))


@message(api_key=ApiKey.OFFSET_COMMIT, kind="response", versions="0-8", flexible="8+")
@attrs.frozen(kw_only=True)
class OffsetCommitResponse:
    throttle_time_ms: int = wire(INT32, versions="3+")
    topics: tuple[OffsetCommitResponseTopic, ...] = wire(Array(OffsetCommitResponseTopic))
