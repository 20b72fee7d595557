"""DescribeTransactions (key 65), v0 (flexible): one coordinator's view of transactional ids
(KIP-664), for ``kafka-transactions.sh describe`` and ``find-hanging``.

Ids this broker does not coordinate answer NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS
while loading), unknown ones TRANSACTIONAL_ID_NOT_FOUND.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_transactions import (
    DescribeTransactionsResponse, TopicData, TransactionState)
from kafkalite.server.dispatch import handler


@handler(ApiKey.DESCRIBE_TRANSACTIONS, versions=(0, 0))
async def handle_describe_transactions(ctx, req):
    svc = ctx.broker.txn_coordinator
    states = []
    if svc is None:
        described = []
        states = [TransactionState(error_code=errors.CoordinatorNotAvailable.code,
                                   transactional_id=tid, transaction_state="",
                                   transaction_timeout_ms=0, transaction_start_time_ms=-1,
                                   producer_id=-1, producer_epoch=-1, topics=[])
                  for tid in req.transactional_ids]
    else:
        described = svc.describe(req.transactional_ids)
    for d in described:
        states.append(TransactionState(
            error_code=d.error.code if d.error else 0, transactional_id=d.transactional_id,
            transaction_state=d.state, transaction_timeout_ms=d.timeout_ms,
            transaction_start_time_ms=d.start_ms, producer_id=d.producer_id,
            producer_epoch=d.producer_epoch,
            topics=[TopicData(topic=t, partitions=list(ps)) for t, ps in d.topics]))
    return DescribeTransactionsResponse(throttle_time_ms=0, transaction_states=states)
