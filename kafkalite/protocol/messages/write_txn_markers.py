"""WriteTxnMarkers (key 27): transaction coordinator writes commit/abort markers to leaders.

v1 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class WritableTxnMarkerTopic:
    name: str = wire(STRING)
    partition_indexes: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class WritableTxnMarker:
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT16)
    transaction_result: bool = wire(BOOLEAN)
    topics: tuple[WritableTxnMarkerTopic, ...] = wire(Array(WritableTxnMarkerTopic))
    coordinator_epoch: int = wire(INT32)


@attrs.frozen(kw_only=True)
class WritableTxnMarkerPartitionResult:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class WritableTxnMarkerTopicResult:
    name: str = wire(STRING)
    partitions: tuple[WritableTxnMarkerPartitionResult, ...] = wire(
        Array(WritableTxnMarkerPartitionResult)
    )


@attrs.frozen(kw_only=True)
class WritableTxnMarkerResult:
    producer_id: int = wire(INT64)
    topics: tuple[WritableTxnMarkerTopicResult, ...] = wire(Array(WritableTxnMarkerTopicResult))


@message(api_key=ApiKey.WRITE_TXN_MARKERS, kind="request", versions="0-1", flexible="1+")
@attrs.frozen(kw_only=True)
class WriteTxnMarkersRequest:
    markers: tuple[WritableTxnMarker, ...] = wire(Array(WritableTxnMarker))


@message(api_key=ApiKey.WRITE_TXN_MARKERS, kind="response", versions="0-1", flexible="1+")
@attrs.frozen(kw_only=True)
class WriteTxnMarkersResponse:
    markers: tuple[WritableTxnMarkerResult, ...] = wire(Array(WritableTxnMarkerResult))
