"""ControlledShutdown (key 7): a stopping broker asks the controller to move leadership away.

v0 uses request header v0 (no client id, see header.py); v2 broker epoch; v3 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class RemainingPartition:
    topic_name: str = wire(STRING)
    partition_index: int = wire(INT32)


@message(api_key=ApiKey.CONTROLLED_SHUTDOWN, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class ControlledShutdownRequest:
    broker_id: int = wire(INT32)
    broker_epoch: int = wire(INT64, versions="2+", default=-1)


@message(api_key=ApiKey.CONTROLLED_SHUTDOWN, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class ControlledShutdownResponse:
    error_code: int = wire(INT16)
    remaining_partitions: tuple[RemainingPartition, ...] = wire(Array(RemainingPartition))
