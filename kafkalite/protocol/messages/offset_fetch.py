"""OffsetFetch (key 9): read a group's committed offsets.

v0 from ZooKeeper; v2 null topics = all and a top-level error; v3 throttle; v5 committed leader
epoch; v6 flexible; v7 require_stable; v8 several groups per request (KIP-709).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class OffsetFetchRequestTopic:
    name: str = wire(STRING, versions="0-7")
    partition_indexes: tuple[int, ...] = wire(Array(INT32), versions="0-7")


@attrs.frozen(kw_only=True)
class OffsetFetchRequestTopics:
    name: str = wire(STRING, versions="8+")
    partition_indexes: tuple[int, ...] = wire(Array(INT32), versions="8+")


@attrs.frozen(kw_only=True)
class OffsetFetchRequestGroup:
    group_id: str = wire(STRING, versions="8+")
    topics: tuple[OffsetFetchRequestTopics, ...] | None = wire(
        Array(OffsetFetchRequestTopics), versions="8+", nullable="8+"
    )


@attrs.frozen(kw_only=True)
class OffsetFetchResponsePartition:
    partition_index: int = wire(INT32, versions="0-7")
    committed_offset: int = wire(INT64, versions="0-7")
    committed_leader_epoch: int = wire(INT32, versions="5-7", default=-1)
    metadata: str | None = wire(STRING, versions="0-7", nullable="0-7")
    error_code: int = wire(INT16, versions="0-7")


@attrs.frozen(kw_only=True)
class OffsetFetchResponseTopic:
    name: str = wire(STRING, versions="0-7")
    partitions: tuple[OffsetFetchResponsePartition, ...] = wire(
        Array(OffsetFetchResponsePartition), versions="0-7"
    )


@attrs.frozen(kw_only=True)
class OffsetFetchResponsePartitions:
    partition_index: int = wire(INT32, versions="8+")
    committed_offset: int = wire(INT64, versions="8+")
    committed_leader_epoch: int = wire(INT32, versions="8+", default=-1)
    metadata: str | None = wire(STRING, versions="8+", nullable="8+")
    error_code: int = wire(INT16, versions="8+")


@attrs.frozen(kw_only=True)
class OffsetFetchResponseTopics:
    name: str = wire(STRING, versions="8+")
    partitions: tuple[OffsetFetchResponsePartitions, ...] = wire(
        Array(OffsetFetchResponsePartitions), versions="8+"
    )


@attrs.frozen(kw_only=True)
class OffsetFetchResponseGroup:
    group_id: str = wire(STRING, versions="8+")
    topics: tuple[OffsetFetchResponseTopics, ...] = wire(
        Array(OffsetFetchResponseTopics), versions="8+"
    )
    error_code: int = wire(INT16, versions="8+")


@message(api_key=ApiKey.OFFSET_FETCH, kind="request", versions="0-8", flexible="6+")
@attrs.frozen(kw_only=True)
class OffsetFetchRequest:
    group_id: str = wire(STRING, versions="0-7")
    topics: tuple[OffsetFetchRequestTopic, ...] | None = wire(
        Array(OffsetFetchRequestTopic), versions="0-7", nullable="2-7"
    )
    groups: tuple[OffsetFetchRequestGroup, ...] = wire(
        Array(OffsetFetchRequestGroup), versions="8+"
    )
    require_stable: bool = wire(BOOLEAN, versions="7+")


@message(api_key=ApiKey.OFFSET_FETCH, kind="response", versions="0-8", flexible="6+")
@attrs.frozen(kw_only=True)
class OffsetFetchResponse:
    throttle_time_ms: int = wire(INT32, versions="3+")
    topics: tuple[OffsetFetchResponseTopic, ...] = wire(
        Array(OffsetFetchResponseTopic), versions="0-7"
    )
    error_code: int = wire(INT16, versions="2-7")
    groups: tuple[OffsetFetchResponseGroup, ...] = wire(
        Array(OffsetFetchResponseGroup), versions="8+"
    )
