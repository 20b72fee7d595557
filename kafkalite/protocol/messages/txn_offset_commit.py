"""TxnOffsetCommit (key 28): commit offsets as part of a transaction.

v2 committed leader epoch; v3 flexible, generation/member/group instance id (KIP-447).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class TxnOffsetCommitRequestPartition:
    partition_index: int = wire(INT32)
    committed_offset: int = wire(INT64)
    committed_leader_epoch: int = wire(INT32, versions="2+", default=-1)
    committed_metadata: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class TxnOffsetCommitRequestTopic:
    name: str = wire(STRING)
    partitions: tuple[TxnOffsetCommitRequestPartition, ...] = wire(
        Array(TxnOffsetCommitRequestPartition)
    )


@attrs.frozen(kw_only=True)
class TxnOffsetCommitResponsePartition:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)


@attrs.frozen(kw_only=True)
class TxnOffsetCommitResponseTopic:
    name: str = wire(STRING)
    partitions: tuple[TxnOffsetCommitResponsePartition, ...] = wire(
        Array(TxnOffsetCommitResponsePartition)
    )


@message(api_key=ApiKey.TXN_OFFSET_COMMIT, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class TxnOffsetCommitRequest:
    transactional_id: str = wire(STRING)
    group_id: str = wire(STRING)
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT16)
    generation_id: int = wire(INT32, versions="3+", default=-1)
    member_id: str = wire(STRING, versions="3+")
    group_instance_id: str | None = wire(STRING, versions="3+", nullable="3+")
    topics: tuple[TxnOffsetCommitRequestTopic, ...] = wire(Array(TxnOffsetCommitRequestTopic))


@message(api_key=ApiKey.TXN_OFFSET_COMMIT, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class TxnOffsetCommitResponse:
    throttle_time_ms: int = wire(INT32)
    topics: tuple[TxnOffsetCommitResponseTopic, ...] = wire(Array(TxnOffsetCommitResponseTopic))
