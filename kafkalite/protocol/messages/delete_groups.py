"""DeleteGroups (key 42): delete empty groups and their offsets.

v1 same as v0; v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DeletableGroupResult:
    group_id: str = wire(STRING)
    error_code: int = wire(INT16)


@message(api_key=ApiKey.DELETE_GROUPS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteGroupsRequest:
    groups_names: tuple[str, ...] = wire(Array(STRING))


@message(api_key=ApiKey.DELETE_GROUPS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteGroupsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[DeletableGroupResult, ...] = wire(Array(DeletableGroupResult))
