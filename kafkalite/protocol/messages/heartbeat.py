"""Heartbeat (key 12): keep a group membership alive and learn about rebalances.

v1 throttle; v3 group instance id; v4 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, STRING, message, wire


@message(api_key=ApiKey.HEARTBEAT, kind="request", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class HeartbeatRequest:
    group_id: str = wire(STRING)
    generation_id: int = wire(INT32)
    member_id: str = wire(STRING)
    group_instance_id: str | None = wire(STRING, versions="3+", nullable="3+")


@message(api_key=ApiKey.HEARTBEAT, kind="response", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class HeartbeatResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16)
