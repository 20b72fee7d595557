"""OffsetForLeaderEpoch (key 23): end offset of a leader epoch (truncation, KIP-101/279/320).

v1 leader epoch in the response; v2 current leader epoch, throttle; v3 replica id (-1 consumer,
-2 debug); v4 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class OffsetForLeaderPartition:
    partition: int = wire(INT32)
    current_leader_epoch: int = wire(INT32, versions="2+", default=-1)
    leader_epoch: int = wire(INT32)


@attrs.frozen(kw_only=True)
class OffsetForLeaderTopic:
    topic: str = wire(STRING)
    partitions: tuple[OffsetForLeaderPartition, ...] = wire(Array(OffsetForLeaderPartition))


@attrs.frozen(kw_only=True)
class EpochEndOffset:
    error_code: int = wire(INT16)
    partition: int = wire(INT32)
    leader_epoch: int = wire(INT32, versions="1+", default=-1)
    end_offset: int = wire(INT64, default=-1)


@attrs.frozen(kw_only=True)
class OffsetForLeaderTopicResult:
    topic: str = wire(STRING)
    partitions: tuple[EpochEndOffset, ...] = wire(Array(EpochEndOffset))


@message(api_key=ApiKey.OFFSET_FOR_LEADER_EPOCH, kind="request", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class OffsetForLeaderEpochRequest:
    replica_id: int = wire(INT32, versions="3+", default=-2)
    topics: tuple[OffsetForLeaderTopic, ...] = wire(Array(OffsetForLeaderTopic))


@message(api_key=ApiKey.OFFSET_FOR_LEADER_EPOCH, kind="response", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class OffsetForLeaderEpochResponse:
    throttle_time_ms: int = wire(INT32, versions="2+")
    topics: tuple[OffsetForLeaderTopicResult, ...] = wire(Array(OffsetForLeaderTopicResult))
