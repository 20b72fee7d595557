"""InitProducerId (key 22), v0–4 (flexible from 2).

For idempotent producers (TransactionalId null) any broker hands out a fresh producer id from
its ZooKeeper-reserved block, with epoch 0; a KIP-360 epoch-bump request (v3+, ProducerId set)
also gets a fresh id, which is just as safe for an idempotent producer. A transactional id goes
to its transaction coordinator (this broker must lead the id's ``__transaction_state``
partition, else NOT_COORDINATOR): it bumps the epoch, fencing older producers of the same id
and aborting their open transaction first (then CONCURRENT_TRANSACTIONS, the client retries).
``TransactionTimeoutMs`` above ``transaction.max.timeout.ms`` is INVALID_TRANSACTION_TIMEOUT.
PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH before v4, as Kafka does.

Authorization (Kafka 2.8): Write on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
without one, IdempotentWrite on the cluster or Write on at least one topic (KIP-679), else
CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.init_producer_id import InitProducerIdResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


def _response(error, producer_id: int = -1, producer_epoch: int = -1) -> InitProducerIdResponse:
    return InitProducerIdResponse(throttle_time_ms=0, error_code=error.code if error else 0,
                                  producer_id=producer_id, producer_epoch=producer_epoch)


@handler(ApiKey.INIT_PRODUCER_ID, versions=(0, 4))
async def handle_init_producer_id(ctx, req):
    version = ctx.api_version
    if req.transactional_id is not None:
        if not authz.authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID,
                               req.transactional_id):
            return _response(errors.TransactionalIdAuthorizationFailed)
    elif not authz.authorize_cluster(ctx, AclOperation.IDEMPOTENT_WRITE) and \
            not authz.authorize_by_resource_type(ctx, AclOperation.WRITE, ResourceType.TOPIC):
        return _response(errors.ClusterAuthorizationFailed)
    if req.transactional_id is None:
        pid = await ctx.broker.producer_ids.next_producer_id()
        return _response(None, pid, 0)
    producer_id = req.producer_id if version >= 3 else -1
    producer_epoch = req.producer_epoch if version >= 3 else -1
    if (producer_id == -1) != (producer_epoch == -1):
        return _response(errors.InvalidRequest)
    svc = ctx.broker.txn_coordinator
    if svc is None:
        return _response(errors.CoordinatorNotAvailable)
    r = await svc.init_producer_id(req.transactional_id, req.transaction_timeout_ms,
                                   producer_id=producer_id, producer_epoch=producer_epoch)
    error = r.error
    if error is errors.ProducerFenced and version < 4:
        error = errors.InvalidProducerEpoch
    if error is not None:
        return _response(error)
    return _response(None, r.producer_id, r.producer_epoch)
