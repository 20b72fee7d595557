"""Fetch (key 1): read record batches (consumers with replica_id -1, followers with their id).

v1 throttle; v3 max_bytes; v4 isolation level, last stable offset, aborted transactions; v5 log
start offset; v7 incremental fetch sessions (KIP-227); v9 current leader epoch (KIP-320); v11
rack id and preferred read replica (KIP-392); v12 flexible, last fetched epoch, and the tagged
diverging epoch / current leader / snapshot id in the response. Response records may be
FileRegions so segment bytes go out with sendfile (codec.encode_parts).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import (
    INT16,
    INT32,
    INT64,
    INT8,
    RECORDS,
    STRING,
    Array,
    message,
    wire,
)


@attrs.frozen(kw_only=True)
class FetchPartition:
    partition: int = wire(INT32)
    current_leader_epoch: int = wire(INT32, versions="9+", default=-1)
    fetch_offset: int = wire(INT64)
    last_fetched_epoch: int = wire(INT32, versions="12+", default=-1)
    log_start_offset: int = wire(INT64, versions="5+", default=-1)
    partition_max_bytes: int = wire(INT32)


@attrs.frozen(kw_only=True)
class FetchTopic:
    topic: str = wire(STRING)
    partitions: tuple[FetchPartition, ...] = wire(Array(FetchPartition))


@attrs.frozen(kw_only=True)
class ForgottenTopic:
    topic: str = wire(STRING, versions="7+")
    partitions: tuple[int, ...] = wire(Array(INT32), versions="7+")


@attrs.frozen(kw_only=True)
class EpochEndOffset:
    epoch: int = wire(INT32, versions="12+", default=-1)
    end_offset: int = wire(INT64, versions="12+", default=-1)


@attrs.frozen(kw_only=True)
class LeaderIdAndEpoch:
    leader_id: int = wire(INT32, versions="12+", default=-1)
    leader_epoch: int = wire(INT32, versions="12+", default=-1)


@attrs.frozen(kw_only=True)
class SnapshotId:
    end_offset: int = wire(INT64, default=-1)
    epoch: int = wire(INT32, default=-1)


@attrs.frozen(kw_only=True)
class AbortedTransaction:
    producer_id: int = wire(INT64, versions="4+")
    first_offset: int = wire(INT64, versions="4+")


@attrs.frozen(kw_only=True)
class PartitionData:
    partition_index: int = wire(INT32)
    error_code: int = wire(INT16)
    high_watermark: int = wire(INT64)
    last_stable_offset: int = wire(INT64, versions="4+", default=-1)
    log_start_offset: int = wire(INT64, versions="5+", default=-1)
    diverging_epoch: EpochEndOffset = wire(EpochEndOffset, versions="12+", tag=0)
    current_leader: LeaderIdAndEpoch = wire(LeaderIdAndEpoch, versions="12+", tag=1)
    snapshot_id: SnapshotId = wire(SnapshotId, versions="12+", tag=2)
    aborted_transactions: tuple[AbortedTransaction, ...] | None = wire(
        Array(AbortedTransaction), versions="4+", nullable="4+"
    )
    preferred_read_replica: int = wire(INT32, versions="11+", default=-1)
    records: memoryview | None = wire(RECORDS, nullable="0+")


@attrs.frozen(kw_only=True)
class FetchableTopicResponse:
    topic: str = wire(STRING)
    partitions: tuple[PartitionData, ...] = wire(Array(PartitionData))


@message(api_key=ApiKey.FETCH, kind="request", versions="0-12", flexible="12+")
@attrs.frozen(kw_only=True)
class FetchRequest:
    cluster_id: str | None = wire(STRING, versions="12+", nullable="12+", tag=0)
    replica_id: int = wire(INT32, default=-1)
    max_wait_ms: int = wire(INT32)
    min_bytes: int = wire(INT32)
    max_bytes: int = wire(INT32, versions="3+", default=0x7FFFFFFF)
    isolation_level: int = wire(INT8, versions="4+")
    session_id: int = wire(INT32, versions="7+")
    session_epoch: int = wire(INT32, versions="7+", default=-1)
    topics: tuple[FetchTopic, ...] = wire(Array(FetchTopic))
    forgotten_topics_data: tuple[ForgottenTopic, ...] = wire(Array(ForgottenTopic), versions="7+")
    rack_id: str = wire(STRING, versions="11+")


@message(api_key=ApiKey.FETCH, kind="response", versions="0-12", flexible="12+")
@attrs.frozen(kw_only=True)
class FetchResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16, versions="7+")
    session_id: int = wire(INT32, versions="7+")
    responses: tuple[FetchableTopicResponse, ...] = wire(Array(FetchableTopicResponse))
