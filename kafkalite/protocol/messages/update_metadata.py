"""UpdateMetadata (key 6): controller pushes the cluster metadata cache to every broker.

v1 endpoints; v2 rack; v3 listener names; v4 offline replicas; v5 broker epoch and partitions
grouped per topic; v6 flexible; v7 topic ids. A leader of -2 marks a partition being deleted.
"""

from __future__ import annotations

import uuid

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, UUID, Array, message, wire


@attrs.frozen(kw_only=True)
class UpdateMetadataPartitionState:
    topic_name: str = wire(STRING, versions="0-4")
    partition_index: int = wire(INT32)
    controller_epoch: int = wire(INT32)
    leader: int = wire(INT32)
    leader_epoch: int = wire(INT32)
    isr: tuple[int, ...] = wire(Array(INT32))
    zk_version: int = wire(INT32)
    replicas: tuple[int, ...] = wire(Array(INT32))
    offline_replicas: tuple[int, ...] = wire(Array(INT32), versions="4+")


@attrs.frozen(kw_only=True)
class UpdateMetadataTopicState:
    topic_name: str = wire(STRING, versions="5+")
    topic_id: uuid.UUID = wire(UUID, versions="7+")
    partition_states: tuple[UpdateMetadataPartitionState, ...] = wire(
        Array(UpdateMetadataPartitionState), versions="5+"
    )


@attrs.frozen(kw_only=True)
class UpdateMetadataEndpoint:
    port: int = wire(INT32, versions="1+")
    host: str = wire(STRING, versions="1+")
    listener: str = wire(STRING, versions="3+")
    security_protocol: int = wire(INT16, versions="1+")


@attrs.frozen(kw_only=True)
class UpdateMetadataBroker:
    id: int = wire(INT32)
    v0_host: str = wire(STRING, versions="0")
    v0_port: int = wire(INT32, versions="0")
    endpoints: tuple[UpdateMetadataEndpoint, ...] = wire(
        Array(UpdateMetadataEndpoint), versions="1+"
    )
    rack: str | None = wire(STRING, versions="2+", nullable="2+")


@message(api_key=ApiKey.UPDATE_METADATA, kind="request", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class UpdateMetadataRequest:
    controller_id: int = wire(INT32)
    controller_epoch: int = wire(INT32)
    broker_epoch: int = wire(INT64, versions="5+", default=-1)
    ungrouped_partition_states: tuple[UpdateMetadataPartitionState, ...] = wire(
        Array(UpdateMetadataPartitionState), versions="0-4"
    )
    topic_states: tuple[UpdateMetadataTopicState, ...] = wire(
        Array(UpdateMetadataTopicState), versions="5+"
    )
    live_brokers: tuple[UpdateMetadataBroker, ...] = wire(Array(UpdateMetadataBroker))


@message(api_key=ApiKey.UPDATE_METADATA, kind="response", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class UpdateMetadataResponse:
    error_code: int = wire(INT16)
