"""AlterPartitionReassignments (key 45): start or cancel replica reassignments (KIP-455)."""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ReassignablePartition:
    partition_index: int = wire(INT32)
    replicas: tuple[int, ...] | None = wire(Array(INT32), nullable="0+")


@attrs.frozen(kw_only=True)
class ReassignableTopic:
    name: str = wire(STRING)
    partitions: tuple[ReassignablePartition, ...] = wire(Array(ReassignablePartition))


@attrs.frozen(kw_only=True)
class ReassignablePartitionResponse:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class ReassignableTopicResponse:
    name: str = wire(STRING)
    partitions: tuple[ReassignablePartitionResponse, ...] = wire(
        Array(ReassignablePartitionResponse)
    )


@message(api_key=ApiKey.ALTER_PARTITION_REASSIGNMENTS, kind="request", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class AlterPartitionReassignmentsRequest:
    timeout_ms: int = wire(INT32, default=60000)
    topics: tuple[ReassignableTopic, ...] = wire(Array(ReassignableTopic))


@message(
    api_key=ApiKey.ALTER_PARTITION_REASSIGNMENTS, kind="response", versions="0", flexible="0+"
)
@attrs.frozen(kw_only=True)
class AlterPartitionReassignmentsResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    responses: tuple[ReassignableTopicResponse, ...] = wire(Array(ReassignableTopicResponse))
