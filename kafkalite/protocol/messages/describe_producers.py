"""DescribeProducers (key 61): active idempotent and transactional producers (KIP-664)."""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class TopicRequest:
    name: str = wire(STRING)
    partition_indexes: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class ProducerState:
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT32)
    last_sequence: int = wire(INT32, default=-1)
    last_timestamp: int = wire(INT64, default=-1)
    coordinator_epoch: int = wire(INT32)
    current_txn_start_offset: int = wire(INT64, default=-1)


@attrs.frozen(kw_only=True)
class PartitionResponse:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    active_producers: tuple[ProducerState, ...] = wire(Array(ProducerState))


@attrs.frozen(kw_only=True)
class TopicResponse:
    name: str = wire(STRING)
    partitions: tuple[PartitionResponse, ...] = wire(Array(PartitionResponse))


@message(api_key=ApiKey.DESCRIBE_PRODUCERS, kind="request", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeProducersRequest:
    topics: tuple[TopicRequest, ...] = wire(Array(TopicRequest))


@message(api_key=ApiKey.DESCRIBE_PRODUCERS, kind="response", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeProducersResponse:
    throttle_time_ms: int = wire(INT32)
    topics: tuple[TopicResponse, ...] = wire(Array(TopicResponse))
