"""ElectLeaders (key 43): trigger preferred or unclean leader election.

v1 election type and a top-level error code (KIP-460); v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class TopicPartitions:
    topic: str = wire(STRING)
    partitions: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class PartitionResult:
    partition_id: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class ReplicaElectionResult:
    topic: str = wire(STRING)
    partition_result: tuple[PartitionResult, ...] = wire(Array(PartitionResult))


@message(api_key=ApiKey.ELECT_LEADERS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class ElectLeadersRequest:
    election_type: int = wire(INT8, versions="1+")
    topic_partitions: tuple[TopicPartitions, ...] | None = wire(
        Array(TopicPartitions), nullable="0+"
    )
    timeout_ms: int = wire(INT32, default=60000)


@message(api_key=ApiKey.ELECT_LEADERS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class ElectLeadersResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16, versions="1+")
    replica_election_results: tuple[ReplicaElectionResult, ...] = wire(
        Array(ReplicaElectionResult)
    )
