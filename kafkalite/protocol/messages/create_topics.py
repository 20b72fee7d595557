"""CreateTopics (key 19): create topics through the controller.

v1 validate_only and error messages; v2 throttle; v4 partitions/replication factor may be -1
(broker defaults); v5 flexible, configs in the response and the tagged topic_config_error_code;
v7 topic id in the response.
"""

from __future__ import annotations

import uuid

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import (
    BOOLEAN,
    INT16,
    INT32,
    INT8,
    STRING,
    UUID,
    Array,
    message,
    wire,
)


@attrs.frozen(kw_only=True)
class CreatableReplicaAssignment:
    partition_index: int = wire(INT32)
    broker_ids: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class CreatableTopicConfig:
    name: str = wire(STRING)
    value: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class CreatableTopic:
    name: str = wire(STRING)
    num_partitions: int = wire(INT32)
    replication_factor: int = wire(INT16)
    assignments: tuple[CreatableReplicaAssignment, ...] = wire(Array(CreatableReplicaAssignment))
    configs: tuple[CreatableTopicConfig, ...] = wire(Array(CreatableTopicConfig))


@attrs.frozen(kw_only=True)
class CreatableTopicConfigs:
    name: str = wire(STRING, versions="5+")
    value: str | None = wire(STRING, versions="5+", nullable="5+")
    read_only: bool = wire(BOOLEAN, versions="5+")
    config_source: int = wire(INT8, versions="5+", default=-1)
    is_sensitive: bool = wire(BOOLEAN, versions="5+")


@attrs.frozen(kw_only=True)
class CreatableTopicResult:
    name: str = wire(STRING)
    topic_id: uuid.UUID = wire(UUID, versions="7+")
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, versions="1+", nullable="1+")
    topic_config_error_code: int = wire(INT16, versions="5+", tag=0)
    num_partitions: int = wire(INT32, versions="5+", default=-1)
    replication_factor: int = wire(INT16, versions="5+", default=-1)
    configs: tuple[CreatableTopicConfigs, ...] | None = wire(
        Array(CreatableTopicConfigs), versions="5+", nullable="5+"
    )


@message(api_key=ApiKey.CREATE_TOPICS, kind="request", versions="0-7", flexible="5+")
@attrs.frozen(kw_only=True)
class CreateTopicsRequest:
    topics: tuple[CreatableTopic, ...] = wire(Array(CreatableTopic))
    timeout_ms: int = wire(INT32, default=60000)
    validate_only: bool = wire(BOOLEAN, versions="1+")


@message(api_key=ApiKey.CREATE_TOPICS, kind="response", versions="0-7", flexible="5+")
@attrs.frozen(kw_only=True)
class CreateTopicsResponse:
    throttle_time_ms: int = wire(INT32, versions="2+")
    topics: tuple[CreatableTopicResult, ...] = wire(Array(CreatableTopicResult))
