"""AddOffsetsToTxn (key 25), v0–3 (flexible from 3).

``send_offsets_to_transaction`` first adds the group's ``__consumer_offsets`` partition to the
transaction (so the markers reach the group coordinator, which then makes the transactional
offset commits visible or drops them); the producer then sends TxnOffsetCommit to the group
coordinator. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.

Authorization: Write on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then
Read on the group (GROUP_AUTHORIZATION_FAILED).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.ADD_OFFSETS_TO_TXN, versions=(0, 3))
async def handle_add_offsets_to_txn(ctx, req):
    svc = ctx.broker.txn_coordinator
    if not authz.authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID,
                           req.transactional_id):
        return AddOffsetsToTxnResponse(
            throttle_time_ms=0, error_code=errors.TransactionalIdAuthorizationFailed.code)
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return AddOffsetsToTxnResponse(throttle_time_ms=0,
                                       error_code=errors.GroupAuthorizationFailed.code)
    error = errors.CoordinatorNotAvailable if svc is None else await svc.add_offsets(
        req.transactional_id, req.producer_id, req.producer_epoch, req.group_id)
    if error is errors.ProducerFenced and ctx.api_version < 2:
        error = errors.InvalidProducerEpoch
    return AddOffsetsToTxnResponse(throttle_time_ms=0, error_code=error.code if error else 0)
