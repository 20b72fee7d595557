"""DescribeTransactions (key 65), v0 (flexible): one coordinator's view of transactional ids
(KIP-664), for ``kafka-transactions.sh describe`` and ``find-hanging``.

Ids this broker does not coordinate answer NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS
while loading), unknown ones TRANSACTIONAL_ID_NOT_FOUND.

Authorization (Kafka 3.0): Describe on each transactional id, else
TRANSACTIONAL_ID_AUTHORIZATION_FAILED; only partitions of topics the principal may Describe
are listed.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_transactions import (
    DescribeTransactionsResponse, TopicData, TransactionState)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.DESCRIBE_TRANSACTIONS, versions=(0, 0))
async def handle_describe_transactions(ctx, req):
    svc = ctx.broker.txn_coordinator
    allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID,
                                      req.transactional_ids)
    ids = [tid for tid in req.transactional_ids if tid in allowed]
    states = [_failed(tid, errors.TransactionalIdAuthorizationFailed)
              for tid in req.transactional_ids if tid not in allowed]
    if svc is None:
        described = []
        states += [_failed(tid, errors.CoordinatorNotAvailable) for tid in ids]
    else:
        described = svc.describe(ids) if ids or not states else []
    for d in described:
        topics = d.topics
        if authz.enabled(ctx):   # only the partitions of topics the principal may describe
            visible = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC,
                                              (t for t, _ in topics))
            topics = [(t, ps) for t, ps in topics if t in visible]
        states.append(TransactionState(
            error_code=d.error.code if d.error else 0, transactional_id=d.transactional_id,
            transaction_state=d.state, transaction_timeout_ms=d.timeout_ms,
            transaction_start_time_ms=d.start_ms, producer_id=d.producer_id,
            producer_epoch=d.producer_epoch,
            topics=[TopicData(topic=t, partitions=list(ps)) for t, ps in topics]))
    return DescribeTransactionsResponse(throttle_time_ms=0, transaction_states=states)


def _failed(tid: str, error) -> TransactionState:
    return TransactionState(error_code=error.code, transactional_id=tid, transaction_state="",
                            transaction_timeout_ms=0, transaction_start_time_ms=-1,
                            producer_id=-1, producer_epoch=-1, topics=[])
