"""ListTransactions (key 66): the transactions a coordinator knows, filtered (KIP-664).

v0 flexible. v1 (duration filter, KIP-994) is not served.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ListedTransactionState:
    transactional_id: str = wire(STRING)
    producer_id: int = wire(INT64)
    transaction_state: str = wire(STRING)


@message(api_key=ApiKey.LIST_TRANSACTIONS, kind="request", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class ListTransactionsRequest:
    state_filters: tuple[str, ...] = wire(Array(STRING))
    producer_id_filters: tuple[int, ...] = wire(Array(INT64))


@message(api_key=ApiKey.LIST_TRANSACTIONS, kind="response", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class ListTransactionsResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    unknown_state_filters: tuple[str, ...] = wire(Array(STRING))
    transaction_states: tuple[ListedTransactionState, ...] = wire(Array(ListedTransactionState))
