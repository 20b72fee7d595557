"""DescribeGroups (key 15): state, protocol and members of groups.

v1 throttle; v3 authorized operations; v4 group instance id; v5 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, BYTES, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DescribedGroupMember:
    member_id: str = wire(STRING)
    group_instance_id: str | None = wire(STRING, versions="4+", nullable="4+")
    client_id: str = wire(STRING)
    client_host: str = wire(STRING)
    member_metadata: bytes = wire(BYTES)
    member_assignment: bytes = wire(BYTES)


@attrs.frozen(kw_only=True)
class DescribedGroup:
    error_code: int = wire(INT16)
    group_id: str = wire(STRING)
    group_state: str = wire(STRING)
    protocol_type: str = wire(STRING)
    protocol_data: str = wire(STRING)
    members: tuple[DescribedGroupMember, ...] = wire(Array(DescribedGroupMember))
    authorized_operations: int = wire(INT32, versions="3+", default=-(2**31))


@message(api_key=ApiKey.DESCRIBE_GROUPS, kind="request", versions="0-5", flexible="5+")
@attrs.frozen(kw_only=True)
class DescribeGroupsRequest:
    groups: tuple[str, ...] = wire(Array(STRING))
    include_authorized_operations: bool = wire(BOOLEAN, versions="3+")


@message(api_key=ApiKey.DESCRIBE_GROUPS, kind="response", versions="0-5", flexible="5+")
@attrs.frozen(kw_only=True)
class DescribeGroupsResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    groups: tuple[DescribedGroup, ...] = wire(Array(DescribedGroup))
