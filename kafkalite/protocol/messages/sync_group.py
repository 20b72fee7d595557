"""SyncGroup (key 14): the leader hands out assignments; every member gets its own.

v1 throttle; v3 group instance id; v4 flexible; v5 protocol type/name.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BYTES, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class SyncGroupRequestAssignment:
    member_id: str = wire(STRING)
    assignment: bytes = wire(BYTES)


@message(api_key=ApiKey.SYNC_GROUP, kind="request", versions="0-5", flexible="4+")
@attrs.frozen(kw_only=True)
class SyncGroupRequest:
    group_id: str = wire(STRING)
    generation_id: int = wire(INT32)
    member_id: str = wire(STRING)
    group_instance_id: str | None = wire(STRING, versions="3+", nullable="3+")
    protocol_type: str | None = wire(STRING, versions="5+", nullable="5+")
    protocol_name: str | None = wire(STRING, versions="5+", nullable="5+")
    assignments: tuple[SyncGroupRequestAssignment, ...] = wire(Array(SyncGroupRequestAssignment))


@message(api_key=ApiKey.SYNC_GROUP, kind="response", versions="0-5", flexible="4+")
@attrs.frozen(kw_only=True)
class SyncGroupResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16)
    protocol_type: str | None = wire(STRING, versions="5+", nullable="5+")
    protocol_name: str | None = wire(STRING, versions="5+", nullable="5+")
    assignment: bytes = wire(BYTES)
