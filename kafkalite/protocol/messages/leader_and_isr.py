"""LeaderAndIsr (key 4): controller tells replicas who leads each partition (ZooKeeper mode).

v1 is_new; v2 broker epoch and partitions grouped per topic; v3 adding/removing replicas; v4
flexible; v5 topic ids, request type, per-topic errors in the response. partition_epoch
carries the partition state znode's zkVersion.
"""

from __future__ import annotations

import uuid

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import (
    BOOLEAN,
    INT16,
    INT32,
    INT64,
    INT8,
    STRING,
    UUID,
    Array,
    message,
    wire,
)


@attrs.frozen(kw_only=True)
class LeaderAndIsrPartitionState:
    topic_name: str = wire(STRING, versions="0-1")
    partition_index: int = wire(INT32)
    controller_epoch: int = wire(INT32)
    leader: int = wire(INT32)
    leader_epoch: int = wire(INT32)
    isr: tuple[int, ...] = wire(Array(INT32))
    partition_epoch: int = wire(INT32)
    replicas: tuple[int, ...] = wire(Array(INT32))
    adding_replicas: tuple[int, ...] = wire(Array(INT32), versions="3+")
    removing_replicas: tuple[int, ...] = wire(Array(INT32), versions="3+")
    is_new: bool = wire(BOOLEAN, versions="1+")


@attrs.frozen(kw_only=True)
class LeaderAndIsrTopicState:
    topic_name: str = wire(STRING, versions="2+")
    topic_id: uuid.UUID = wire(UUID, versions="5+")
    partition_states: tuple[LeaderAndIsrPartitionState, ...] = wire(
        Array(LeaderAndIsrPartitionState), versions="2+"
    )


@attrs.frozen(kw_only=True)
class LeaderAndIsrLiveLeader:
    broker_id: int = wire(INT32)
    host_name: str = wire(STRING)
    port: int = wire(INT32)


@attrs.frozen(kw_only=True)
class LeaderAndIsrPartitionError:
    topic_name: str = wire(STRING, versions="0-4")
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class LeaderAndIsrTopicError:
    topic_id: uuid.UUID = wire(UUID, versions="5+")
    partition_errors: tuple[LeaderAndIsrPartitionError, ...] = wire(
        Array(LeaderAndIsrPartitionError), versions="5+"
    )


@message(api_key=ApiKey.LEADER_AND_ISR, kind="request", versions="0-5", flexible="4+")
@attrs.frozen(kw_only=True)
class LeaderAndIsrRequest:
    controller_id: int = wire(INT32)
    controller_epoch: int = wire(INT32)
    broker_epoch: int = wire(INT64, versions="2+", default=-1)
    type: int = wire(INT8, versions="5+")
    ungrouped_partition_states: tuple[LeaderAndIsrPartitionState, ...] = wire(
        Array(LeaderAndIsrPartitionState), versions="0-1"
    )
    topic_states: tuple[LeaderAndIsrTopicState, ...] = wire(
        Array(LeaderAndIsrTopicState), versions="2+"
    )
    live_leaders: tuple[LeaderAndIsrLiveLeader, ...] = wire(Array(LeaderAndIsrLiveLeader))


@message(api_key=ApiKey.LEADER_AND_ISR, kind="response", versions="0-5", flexible="4+")
@attrs.frozen(kw_only=True)
class LeaderAndIsrResponse:
    error_code: int = wire(INT16)
    partition_errors: tuple[LeaderAndIsrPartitionError, ...] = wire(
        Array(LeaderAndIsrPartitionError), versions="0-4"
    )
    topics: tuple[LeaderAndIsrTopicError, ...] = wire(Array(LeaderAndIsrTopicError), versions="5+")
