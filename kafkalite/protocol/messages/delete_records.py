"""DeleteRecords (key 21): advance partitions' log start offsets.

v1 same as v0; v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DeleteRecordsPartition:
    partition_index: int = wire(INT32)
    offset: int = wire(INT64)


@attrs.frozen(kw_only=True)
class DeleteRecordsTopic:
    name: str = wire(STRING)
    partitions: tuple[DeleteRecordsPartition, ...] = wire(Array(DeleteRecordsPartition))


@attrs.frozen(kw_only=True)
class DeleteRecordsPartitionResult:
    partition_index: int = wire(INT32)
    low_watermark: int = wire(INT64)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class DeleteRecordsTopicResult:
    name: str = wire(STRING)
    partitions: tuple[DeleteRecordsPartitionResult, ...] = wire(
        Array(DeleteRecordsPartitionResult)
    )


@message(api_key=ApiKey.DELETE_RECORDS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteRecordsRequest:
    topics: tuple[DeleteRecordsTopic, ...] = wire(Array(DeleteRecordsTopic))
    timeout_ms: int = wire(INT32)


@message(api_key=ApiKey.DELETE_RECORDS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteRecordsResponse:
    throttle_time_ms: int = wire(INT32)
    topics: tuple[DeleteRecordsTopicResult, ...] = wire(Array(DeleteRecordsTopicResult))
