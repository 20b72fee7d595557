"""OffsetDelete (key 47): delete committed offsets of partitions a group no longer consumes."""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class OffsetDeleteRequestPartition:
    partition_index: int = wire(INT32)


@attrs.frozen(kw_only=True)
class OffsetDeleteRequestTopic:
    name: str = wire(STRING)
    partitions: tuple[OffsetDeleteRequestPartition, ...] = wire(
        Array(OffsetDeleteRequestPartition)
    )


@attrs.frozen(kw_only=True)
class OffsetDeleteResponsePartition:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class OffsetDeleteResponseTopic:
    name: str = wire(STRING)
    partitions: tuple[OffsetDeleteResponsePartition, ...] = wire(
        Array(OffsetDeleteResponsePartition)
    )


@message(api_key=ApiKey.OFFSET_DELETE, kind="request", versions="0", flexible="none")
@attrs.frozen(kw_only=True)
class OffsetDeleteRequest:
    group_id: str = wire(STRING)
    topics: tuple[OffsetDeleteRequestTopic, ...] = wire(Array(OffsetDeleteRequestTopic))


@message(api_key=ApiKey.OFFSET_DELETE, kind="response", versions="0", flexible="none")
@attrs.frozen(kw_only=True)
class OffsetDeleteResponse:
    error_code: int = wire(INT16)
    throttle_time_ms: int = wire(INT32)
    topics: tuple[OffsetDeleteResponseTopic, ...] = wire(Array(OffsetDeleteResponseTopic))
