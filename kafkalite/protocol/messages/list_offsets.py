"""ListOffsets (key 2): offsets by timestamp (-1 latest, -2 earliest, -3 max timestamp).

v0 returns old-style offset lists (max_num_offsets); v1 single offset + timestamp (KIP-79);
v2 isolation level, throttle; v4 current leader epoch and leader epoch in the response; v6
flexible; v7 max-timestamp lookup (-3).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ListOffsetsPartition:
    partition_index: int = wire(INT32)
    current_leader_epoch: int = wire(INT32, versions="4+", default=-1)
    timestamp: int = wire(INT64)
    max_num_offsets: int = wire(INT32, versions="0", default=1)


@attrs.frozen(kw_only=True)
class ListOffsetsTopic:
    name: str = wire(STRING)
    partitions: tuple[ListOffsetsPartition, ...] = wire(Array(ListOffsetsPartition))


@attrs.frozen(kw_only=True)
class ListOffsetsPartitionResponse:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)
    old_style_offsets: tuple[int, ...] = wire(Array(INT64), versions="0")
    timestamp: int = wire(INT64, versions="1+", default=-1)
    offset: int = wire(INT64, versions="1+", default=-1)
    leader_epoch: int = wire(INT32, versions="4+", default=-1)


@attrs.frozen(kw_only=True)
class ListOffsetsTopicResponse:
    name: str = wire(STRING)
    partitions: tuple[ListOffsetsPartitionResponse, ...] = wire(
        Array(ListOffsetsPartitionResponse)
    )


@message(api_key=ApiKey.LIST_OFFSETS, kind="request", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class ListOffsetsRequest:
    replica_id: int = wire(INT32)
    isolation_level: int = wire(INT8, versions="2+")
    topics: tuple[ListOffsetsTopic, ...] = wire(Array(ListOffsetsTopic))


@message(api_key=ApiKey.LIST_OFFSETS, kind="response", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class ListOffsetsResponse:
    throttle_time_ms: int = wire(INT32, versions="2+")
    topics: tuple[ListOffsetsTopicResponse, ...] = wire(Array(ListOffsetsTopicResponse))
