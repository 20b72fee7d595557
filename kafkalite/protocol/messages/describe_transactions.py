"""DescribeTransactions (key 65): a transaction coordinator's view of transactional ids (KIP-664).

v0 only, flexible. Sent to the coordinator of each id (FindCoordinator key_type 1).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class TopicData:
    topic: str = wire(STRING)
    partitions: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class TransactionState:
    error_code: int = wire(INT16)
    transactional_id: str = wire(STRING)
    transaction_state: str = wire(STRING)
    transaction_timeout_ms: int = wire(INT32)
    transaction_start_time_ms: int = wire(INT64)
    producer_id: int = wire(INT64)
    producer_epoch: int = wire(INT16)
    topics: tuple[TopicData, ...] = wire(Array(TopicData))


@message(api_key=ApiKey.DESCRIBE_TRANSACTIONS, kind="request", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeTransactionsRequest:
    transactional_ids: tuple[str, ...] = wire(Array(STRING))


@message(api_key=ApiKey.DESCRIBE_TRANSACTIONS, kind="response", versions="0", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeTransactionsResponse:
    throttle_time_ms: int = wire(INT32)
    transaction_states: tuple[TransactionState, ...] = wire(Array(TransactionState))
