"""Produce (key 0): append record batches to partition leaders.

v1 throttle; v2 log-append time; v3 transactional id and record batch v2 (magic 2); v5 log
start offset; v7 zstd allowed; v8 per-batch record errors and error message; v9 flexible.
Records stay opaque bytes here: decoded as memoryview slices of the request frame so the broker
can validate and patch them in place.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, RECORDS, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class PartitionProduceData:
    index: int = wire(INT32)
    records: memoryview | None = wire(RECORDS, nullable="0+")


@attrs.frozen(kw_only=True)
class TopicProduceData:
    name: str = wire(STRING)
    partition_data: tuple[PartitionProduceData, ...] = wire(Array(PartitionProduceData))


@attrs.frozen(kw_only=True)
class BatchIndexAndErrorMessage:
    batch_index: int = wire(INT32, versions="8+")
    batch_index_error_message: str | None = wire(STRING, versions="8+", nullable="8+")


@attrs.frozen(kw_only=True)
class PartitionProduceResponse:
    index: int = wire(INT32)
    error_code: int = wire(INT16)
    base_offset: int = wire(INT64)
    log_append_time_ms: int = wire(INT64, versions="2+", default=-1)
    log_start_offset: int = wire(INT64, versions="5+", default=-1)
    record_errors: tuple[BatchIndexAndErrorMessage, ...] = wire(
        Array(BatchIndexAndErrorMessage), versions="8+"
    )
    error_message: str | None = wire(STRING, versions="8+", nullable="8+")


@attrs.frozen(kw_only=True)
class TopicProduceResponse:
    name: str = wire(STRING)
    partition_responses: tuple[PartitionProduceResponse, ...] = wire(
        Array(PartitionProduceResponse)
    )


@message(api_key=ApiKey.PRODUCE, kind="request", versions="0-9", flexible="9+")
@attrs.frozen(kw_only=True)
class ProduceRequest:
    transactional_id: str | None = wire(STRING, versions="3+", nullable="3+")
    acks: int = wire(INT16)
    timeout_ms: int = wire(INT32)
    topic_data: tuple[TopicProduceData, ...] = wire(Array(TopicProduceData))


@message(api_key=ApiKey.PRODUCE, kind="response", versions="0-9", flexible="9+")
@attrs.frozen(kw_only=True)
class ProduceResponse:
    responses: tuple[TopicProduceResponse, ...] = wire(Array(TopicProduceResponse))
    throttle_time_ms: int = wire(INT32, versions="1+")
