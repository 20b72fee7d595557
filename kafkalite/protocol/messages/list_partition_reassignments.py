"""ListPartitionReassignments (key 46): ongoing replica reassignments (KIP-455)."""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ListPartitionReassignmentsTopics:
    name: str = wire(STRING)
    partition_indexes: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class OngoingPartitionReassignment:
    partition_index: int = wire(INT32)
    replicas: tuple[int, ...] = wire(Array(INT32))
    adding_replicas: tuple[int, ...] = wire(Array(INT32))
    removing_replicas: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class OngoingTopicReassignment:
    name: str = wire(STRING)
    partitions: tuple[OngoingPartitionReassignment, ...] = wire(
        Array(OngoingPartitionReassignment)
    )


@message(api_key=ApiKey.LIST_PARTITION_REASSIGNMENTS, kind="request", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class ListPartitionReassignmentsRequest:
    timeout_ms: int = wire(INT32, default=60000)
    topics: tuple[ListPartitionReassignmentsTopics, ...] | None = wire(
        Array(ListPartitionReassignmentsTopics), nullable="0+"
    )


@message(api_key=ApiKey.LIST_PARTITION_REASSIGNMENTS, kind="response", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class ListPartitionReassignmentsResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    topics: tuple[OngoingTopicReassignment, ...] = wire(Array(OngoingTopicReassignment))
