"""EndTxn (key 26), v0–3 (flexible from 3).

Commit or abort the producer's transaction: answered once the coordinator has written
PrepareCommit/PrepareAbort to ``__transaction_state``; the markers are written to the
partitions afterwards (a retry meanwhile gets CONCURRENT_TRANSACTIONS). PRODUCER_FENCED is
INVALID_PRODUCER_EPOCH before v2, as in Kafka.

Authorization: Write on the transactional id, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.end_txn import EndTxnResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.END_TXN, versions=(0, 3))
async def handle_end_txn(ctx, req):
    svc = ctx.broker.txn_coordinator
    if not authz.authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID,
                           req.transactional_id):
        return EndTxnResponse(throttle_time_ms=0,
                              error_code=errors.TransactionalIdAuthorizationFailed.code)
    error = errors.CoordinatorNotAvailable if svc is None else await svc.end_txn(
        req.transactional_id, req.producer_id, req.producer_epoch, req.committed)
    if error is errors.ProducerFenced and ctx.api_version < 2:
        error = errors.InvalidProducerEpoch
    return EndTxnResponse(throttle_time_ms=0, error_code=error.code if error else 0)
