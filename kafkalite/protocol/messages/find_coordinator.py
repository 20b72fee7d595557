"""FindCoordinator (key 10): which broker coordinates a group or transactional id.

v1 key_type (0 group, 1 transaction) and error message; v3 flexible; v4 batched
coordinator_keys with per-key results (KIP-699).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class Coordinator:
    key: str = wire(STRING, versions="4+")
    node_id: int = wire(INT32, versions="4+")
    host: str = wire(STRING, versions="4+")
    port: int = wire(INT32, versions="4+")
    error_code: int = wire(INT16, versions="4+")
    error_message: str | None = wire(STRING, versions="4+", nullable="4+")


@message(api_key=ApiKey.FIND_COORDINATOR, kind="request", versions="0-4", flexible="3+")
@attrs.frozen(kw_only=True)
class FindCoordinatorRequest:
    key: str = wire(STRING, versions="0-3")
    key_type: int = wire(INT8, versions="1+")
    coordinator_keys: tuple[str, ...] = wire(Array(STRING), versions="4+")


@message(api_key=ApiKey.FIND_COORDINATOR, kind="response", versions="0-4", flexible="3+")
@attrs.frozen(kw_only=True)
class FindCoordinatorResponse:
    throttle_time_ms: int = wire(INT32, versions="1+")
    error_code: int = wire(INT16, versions="0-3")
    error_message: str | None = wire(STRING, versions="1-3", nullable="1-3")
    node_id: int = wire(INT32, versions="0-3")
    host: str = wire(STRING, versions="0-3")
    port: int = wire(INT32, versions="0-3")
    coordinators: tuple[Coordinator, ...] = wire(Array(Coordinator), versions="4+")
