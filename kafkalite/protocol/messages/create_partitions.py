"""CreatePartitions (key 37): add partitions to existing topics.

v1 same as v0; v2 flexible; v3 may return THROTTLING_QUOTA_EXCEEDED (KIP-599).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class CreatePartitionsAssignment:
    broker_ids: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class CreatePartitionsTopic:
    name: str = wire(STRING)
    count: int = wire(INT32)
    assignments: tuple[CreatePartitionsAssignment, ...] | None = wire(
        Array(CreatePartitionsAssignment), nullable="0+"
    )


@attrs.frozen(kw_only=True)
class CreatePartitionsTopicResult:
    name: str = wire(STRING)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")


@message(api_key=ApiKey.CREATE_PARTITIONS, kind="request", versions="0-3", flexible="2+")
@attrs.frozen(kw_only=True)
class CreatePartitionsRequest:
    topics: tuple[CreatePartitionsTopic, ...] = wire(Array(CreatePartitionsTopic))
    timeout_ms: int = wire(INT32)
    validate_only: bool = wire(BOOLEAN)


@message(api_key=ApiKey.CREATE_PARTITIONS, kind="response", versions="0-3", flexible="2+")
@attrs.frozen(kw_only=True)
class CreatePartitionsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[CreatePartitionsTopicResult, ...] = wire(Array(CreatePartitionsTopicResult))
