"""InitProducerId (key 22): obtain a producer id and epoch (idempotence, transactions).

v2 flexible; v3 producer_id/producer_epoch for epoch bumps (KIP-360); v4 PRODUCER_FENCED.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, message, wire


@message(api_key=ApiKey.INIT_PRODUCER_ID, kind="request", versions="0-4", flexible="2+")
@attrs.frozen(kw_only=True)
class InitProducerIdRequest:
    transactional_id: str | None = wire(STRING, nullable="0+")
    transaction_timeout_ms: int = wire(INT32)
    producer_id: int = wire(INT64, versions="3+", default=-1)
    producer_epoch: int = wire(INT16, versions="3+", default=-1)


@message(api_key=ApiKey.INIT_PRODUCER_ID, kind="response", versions="0-4", flexible="2+")
@attrs.frozen(kw_only=True)
class InitProducerIdResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    producer_id: int = wire(INT64, default=-1)
    producer_epoch: int = wire(INT16)
