"""DeleteTopics (key 20): delete topics through the controller.

v1 throttle; v4 flexible; v5 error message per topic; v6 topics addressed by name or id.
"""

from __future__ import annotations

import uuid

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, UUID, Array, message, wire


@attrs.frozen(kw_only=True)
class DeleteTopicState:
    name: str | None = wire(STRING, versions="6+", nullable="6+")
    topic_id: uuid.UUID = wire(UUID, versions="6+")


@attrs.frozen(kw_only=True)
class DeletableTopicResult:
    name: str | None = wire(STRING, nullable="6+")
    topic_id: uuid.UUID = wire(UUID, versions="6+")
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, versions="5+", nullable="5+")


@message(api_key=ApiKey.DELETE_TOPICS, kind="request", versions="0-6", flexible="4+")
@attrs.frozen(kw_only=True)
class DeleteTopicsRequest:
    topics: tuple[DeleteTopicState, ...] = wire(Array(DeleteTopicState), versions="6+")
    topic_names: tuple[str, ...] = wire(Array(STRING), versions="0-5")
    timeout_ms: int = wire(INT32)


@message(api_key=ApiKey.DELETE_TOPICS, kind="response", versions="0-6", flexible="4+")
@attrs.frozen(kw_only=True)
class DeleteTopicsResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    responses: tuple[DeletableTopicResult, ...] = wire(Array(DeletableTopicResult))
