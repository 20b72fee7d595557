"""LeaveGroup (key 13): leave a classic group.

v1 throttle; v3 batch of members with group instance ids (KIP-345) and per-member errors; v4
flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class MemberIdentity:
    member_id: str = wire(STRING, versions="3+")
    group_instance_id: str | None = wire(STRING, versions="3+", nullable="3+")


@attrs.frozen(kw_only=True)
class MemberResponse:
    member_id: str = wire(STRING, versions="3+")
    group_instance_id: str | None = wire(STRING, versions="3+", nullable="3+")
    error_code: int = wire(INT16, versions="3+")


@message(api_key=ApiKey.LEAVE_GROUP, kind="request", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class LeaveGroupRequest:
    group_id: str = wire(STRING)
    member_id: str = wire(STRING, versions="0-2")
    members: tuple[MemberIdentity, ...] = wire(Array(MemberIdentity), versions="3+")


@message(api_key=ApiKey.LEAVE_GROUP, kind="response", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class LeaveGroupResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16)
    members: tuple[MemberResponse, ...] = wire(Array(MemberResponse), versions="3+")
