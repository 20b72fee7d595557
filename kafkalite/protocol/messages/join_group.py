"""JoinGroup (key 11): enter a classic consumer group and learn the generation.

v1 rebalance timeout; v2 throttle; v4 empty member id → MEMBER_ID_REQUIRED (KIP-394); v5 group
instance id (static membership, KIP-345); v6 flexible; v7 protocol type in the response.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BYTES, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class JoinGroupRequestProtocol:
    name: str = wire(STRING)
    metadata: bytes = wire(BYTES)


@attrs.frozen(kw_only=True)
class JoinGroupResponseMember:
    member_id: str = wire(STRING)
    group_instance_id: str | None = wire(STRING, versions="5+", nullable="5+")
    metadata: bytes = wire(BYTES)


@message(api_key=ApiKey.JOIN_GROUP, kind="request", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class JoinGroupRequest:
    group_id: str = wire(STRING)
    session_timeout_ms: int = wire(INT32)
    rebalance_timeout_ms: int = wire(INT32, versions="1+", default=-1)
    member_id: str = wire(STRING)
    group_instance_id: str | None = wire(STRING, versions="5+", nullable="5+")
    protocol_type: str = wire(STRING)
    protocols: tuple[JoinGroupRequestProtocol, ...] = wire(Array(JoinGroupRequestProtocol))


@message(api_key=ApiKey.JOIN_GROUP, kind="response", versions="0-7", flexible="6+")
@attrs.frozen(kw_only=True)
class JoinGroupResponse:
    throttle_time_ms: int = wire(INT32, versions="2+")
    error_code: int = wire(INT16)
    generation_id: int = wire(INT32, default=-1)
    protocol_type: str | None = wire(STRING, versions="7+", nullable="7+")
    protocol_name: str | None = wire(STRING, nullable="7+")
    leader: str = wire(STRING)
    member_id: str = wire(STRING)
    members: tuple[JoinGroupResponseMember, ...] = wire(Array(JoinGroupResponseMember))
