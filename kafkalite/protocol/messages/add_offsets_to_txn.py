"""AddOffsetsToTxn (key 25): add a group's offsets topic partition to a transaction.

v2 PRODUCER_FENCED; v3 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, message, wire


@message(api_key=ApiKey.ADD_OFFSETS_TO_TXN, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class AddOffsetsToTxnRequest:
    transactional_id: str = wire(STRING)
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT16)
    group_id: str = wire(STRING)


@message(api_key=ApiKey.ADD_OFFSETS_TO_TXN, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class AddOffsetsToTxnResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
