"""InitProducerId (key 22), v0–4 (flexible from 2).

For idempotent producers (TransactionalId null) any broker hands out a fresh producer id from
its ZooKeeper-reserved block, with epoch 0. A KIP-360 epoch-bump request (v3+, ProducerId set)
also gets a fresh id: just as safe for an idempotent producer. Transactions are not implemented
yet, so a transactional id gets COORDINATOR_NOT_AVAILABLE (retriable) rather than a wrong answer.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.init_producer_id import InitProducerIdResponse
from kafkalite.server.dispatch import handler


@handler(ApiKey.INIT_PRODUCER_ID, versions=(0, 4))
async def handle_init_producer_id(ctx, req):
    if req.transactional_id is not None:
        return InitProducerIdResponse(throttle_time_ms=0,
                                      error_code=errors.CoordinatorNotAvailable.code,
                                      producer_id=-1, producer_epoch=-1)
    pid = await ctx.broker.producer_ids.next_producer_id()
    return InitProducerIdResponse(throttle_time_ms=0, error_code=0, producer_id=pid,
                                  producer_epoch=0)
