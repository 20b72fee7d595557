"""StopReplica (key 5): controller stops (and maybe deletes) replicas.

v1 broker epoch and partitions grouped per topic; v2 flexible; v3 per-partition leader epoch
and delete flag.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class StopReplicaPartitionV0:
    topic_name: str = wire(STRING, versions="0")
    partition_index: int = wire(INT32, versions="0")


@attrs.frozen(kw_only=True)
class StopReplicaTopicV1:
    name: str = wire(STRING, versions="1-2")
    partition_indexes: tuple[int, ...] = wire(Array(INT32), versions="1-2")


@attrs.frozen(kw_only=True)
class StopReplicaPartitionState:
    partition_index: int = wire(INT32, versions="3+")
    leader_epoch: int = wire(INT32, versions="3+", default=-1)
    delete_partition: bool = wire(BOOLEAN, versions="3+")


@attrs.frozen(kw_only=True)
class StopReplicaTopicState:
    topic_name: str = wire(STRING, versions="3+")
    partition_states: tuple[StopReplicaPartitionState, ...] = wire(
        Array(StopReplicaPartitionState), versions="3+"
    )


@attrs.frozen(kw_only=True)
class StopReplicaPartitionError:
    topic_name: str = wire(STRING)
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@message(api_key=ApiKey.STOP_REPLICA, kind="request", versions="0-3", flexible="2+")
@attrs.frozen(kw_only=True)
class StopReplicaRequest:
    controller_id: int = wire(INT32)
    controller_epoch: int = wire(INT32)
    broker_epoch: int = wire(INT64, versions="1+", default=-1)
    delete_partitions: bool = wire(BOOLEAN, versions="0-2")
    ungrouped_partitions: tuple[StopReplicaPartitionV0, ...] = wire(
        Array(StopReplicaPartitionV0), versions="0"
    )
    topics: tuple[StopReplicaTopicV1, ...] = wire(Array(StopReplicaTopicV1), versions="1-2")
    topic_states: tuple[StopReplicaTopicState, ...] = wire(
        Array(StopReplicaTopicState), versions="3+"
    )


@message(api_key=ApiKey.STOP_REPLICA, kind="response", versions="0-3", flexible="2+")
@attrs.frozen(kw_only=True)
class StopReplicaResponse:
    error_code: int = wire(INT16)
    partition_errors: tuple[StopReplicaPartitionError, ...] = wire(
        Array(StopReplicaPartitionError)
    )
