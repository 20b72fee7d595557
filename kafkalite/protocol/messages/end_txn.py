"""EndTxn (key 26): commit or abort a transaction.

v2 PRODUCER_FENCED; v3 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, message, wire


@message(api_key=ApiKey.END_TXN, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class EndTxnRequest:
    transactional_id: str = wire(STRING)
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT16)
    committed: bool = wire(BOOLEAN)


@message(api_key=ApiKey.END_TXN, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class EndTxnResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
