"""AddPartitionsToTxn (key 24): add partitions to an ongoing transaction (client versions 0-3).

v2 PRODUCER_FENCED; v3 flexible. v4+ (broker batched form) is not modelled.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class AddPartitionsToTxnTopic:
    name: str = wire(STRING)
    partitions: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class AddPartitionsToTxnPartitionResult:
    partition_index: int = wire(INT32)
    partition_error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class AddPartitionsToTxnTopicResult:
    name: str = wire(STRING)
    results_by_partition: tuple[AddPartitionsToTxnPartitionResult, ...] = wire(
        Array(AddPartitionsToTxnPartitionResult)
    )


@message(api_key=ApiKey.ADD_PARTITIONS_TO_TXN, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class AddPartitionsToTxnRequest:
    v3_and_below_transactional_id: str = wire(STRING)
    v3_and_below_producer_id: int = wire(INT64)
    v3_and_below_producer_epoch: int = wire(INT16)
    v3_and_below_topics: tuple[AddPartitionsToTxnTopic, ...] = wire(Array(AddPartitionsToTxnTopic))


@message(api_key=ApiKey.ADD_PARTITIONS_TO_TXN, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class AddPartitionsToTxnResponse:
    throttle_time_ms: int = wire(INT32)
    results_by_topic_v3_and_below: tuple[AddPartitionsToTxnTopicResult, ...] = wire(
        Array(AddPartitionsToTxnTopicResult)
    )
