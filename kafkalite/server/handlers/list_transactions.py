"""ListTransactions (key 66), v0 (flexible): the transactions this broker coordinates (KIP-664).

``kafka-transactions.sh list`` asks every broker and merges. State filters are Kafka's state
names ("Ongoing", "PrepareCommit", ...; unknown names come back in UnknownStateFilters), producer
id filters match exactly; empty filters match everything. COORDINATOR_LOAD_IN_PROGRESS while
a ``__transaction_state`` partition is loading.

Authorization (Kafka 3.0): only the transactional ids the principal may Describe are listed.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.list_transactions import (
    ListedTransactionState, ListTransactionsResponse)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.LIST_TRANSACTIONS, versions=(0, 0))
async def handle_list_transactions(ctx, req):
    svc = ctx.broker.txn_coordinator
    if svc is None:
        return ListTransactionsResponse(throttle_time_ms=0,
                                        error_code=errors.CoordinatorNotAvailable.code,
                                        unknown_state_filters=[], transaction_states=[])
    r = svc.list_transactions(req.state_filters, req.producer_id_filters)
    allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID,
                                      (t.transactional_id for t in r.transactions))
    return ListTransactionsResponse(
        throttle_time_ms=0, error_code=r.error.code if r.error else 0,
        unknown_state_filters=list(r.unknown_state_filters),
        transaction_states=[ListedTransactionState(transactional_id=t.transactional_id,
                                                   producer_id=t.producer_id,
                                                   transaction_state=t.state)
                            for t in r.transactions if t.transactional_id in allowed])
