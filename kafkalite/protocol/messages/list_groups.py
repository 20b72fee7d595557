"""ListGroups (key 16): groups coordinated by this broker.

v1 throttle; v3 flexible; v4 states filter and group state in the response.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ListedGroup:
    group_id: str = wire(STRING)
    protocol_type: str = wire(STRING)
    group_state: str = wire(STRING, versions="4+")


@message(api_key=ApiKey.LIST_GROUPS, kind="request", versions="0-4", flexible="3+")
@attrs.frozen(kw_only=True)
class ListGroupsRequest:
    states_filter: tuple[str, ...] = wire(Array(STRING), versions="4+")


@message(api_key=ApiKey.LIST_GROUPS, kind="response", versions="0-4", flexible="3+")
@attrs.frozen(kw_only=True)
class ListGroupsResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16)
    groups: tuple[ListedGroup, ...] = wire(Array(ListedGroup))
