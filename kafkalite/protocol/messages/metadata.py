"""Metadata (key 3): brokers, controller and topic/partition leadership.

v0 empty topic list = all topics; v1 null list = all, rack, controller id, is_internal; v2
cluster id; v3 throttle; v4 allow_auto_topic_creation; v5 offline replicas; v7 leader epoch;
v8 authorized operations; v9 flexible; v10 topic ids; v11 cluster operations dropped; v12
lookup by topic id (null names).
"""

from __future__ import annotations

import uuid

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, STRING, UUID, Array, message, wire


@attrs.frozen(kw_only=True)
class MetadataRequestTopic:
    topic_id: uuid.UUID = wire(UUID, versions="10+")
    name: str | None = wire(STRING, nullable="10+")


@attrs.frozen(kw_only=True)
class MetadataResponseBroker:
    node_id: int = wire(INT32)
    host: str = wire(STRING)
    port: int = wire(INT32)
    rack: str | None = wire(STRING, versions="1+", nullable="1+")


@attrs.frozen(kw_only=True)
class MetadataResponsePartition:
    error_code: int = wire(INT16)
    partition_index: int = wire(INT32)
    leader_id: int = wire(INT32)
    leader_epoch: int = wire(INT32, versions="7+", default=-1)
    replica_nodes: tuple[int, ...] = wire(Array(INT32))
    isr_nodes: tuple[int, ...] = wire(Array(INT32))
    offline_replicas: tuple[int, ...] = wire(Array(INT32), versions="5+")


@attrs.frozen(kw_only=True)
class MetadataResponseTopic:
    error_code: int = wire(INT16)
    name: str | None = wire(STRING, nullable="12+")
    topic_id: uuid.UUID = wire(UUID, versions="10+")
    is_internal: bool = wire(BOOLEAN, versions="1+")
    partitions: tuple[MetadataResponsePartition, ...] = wire(Array(MetadataResponsePartition))
    topic_authorized_operations: int = wire(INT32, versions="8+", default=-(2**31))


@message(api_key=ApiKey.METADATA, kind="request", versions="0-12", flexible="9+")
@attrs.frozen(kw_only=True)
class MetadataRequest:
    topics: tuple[MetadataRequestTopic, ...] | None = wire(
        Array(MetadataRequestTopic), nullable="1+"
    )
    allow_auto_topic_creation: bool = wire(BOOLEAN, versions="4+", default=True)
    include_cluster_authorized_operations: bool = wire(BOOLEAN, versions="8-10")
    include_topic_authorized_operations: bool = wire(BOOLEAN, versions="8+")


@message(api_key=ApiKey.METADATA, kind="response", versions="0-12", flexible="9+")
@attrs.frozen(kw_only=True)
class MetadataResponse:
    throttle_time_ms: int = wire(INT32, versions="3+")
    brokers: tuple[MetadataResponseBroker, ...] = wire(Array(MetadataResponseBroker))
    cluster_id: str | None = wire(STRING, versions="2+", nullable="2+")
    controller_id: int = wire(INT32, versions="1+", default=-1)
    topics: tuple[MetadataResponseTopic, ...] = wire(Array(MetadataResponseTopic))
    cluster_authorized_operations: int = wire(INT32, versions="8-10", default=-(2**31))
