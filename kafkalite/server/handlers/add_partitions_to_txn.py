"""AddPartitionsToTxn (key 24), v0–3 (flexible from 3).

A transactional producer names the partitions it is about to write before its first record to
each, so the coordinator knows where to send the COMMIT/ABORT markers. One answer for all
partitions (the coordinator decides the whole request). If any partition does not exist, the
coordinator is not asked: those get UNKNOWN_TOPIC_OR_PARTITION and the rest
OPERATION_NOT_ATTEMPTED, as in Kafka. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.
The v4+ broker-to-broker batched form (KIP-890) is not served.

Authorization (Kafka 2.8): Write on the transactional id, else every partition answers
TRANSACTIONAL_ID_AUTHORIZATION_FAILED; Write on each topic (internal topics never), else
TOPIC_AUTHORIZATION_FAILED and the rest OPERATION_NOT_ATTEMPTED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import INTERNAL_TOPICS, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResponse, AddPartitionsToTxnTopicResult)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.ADD_PARTITIONS_TO_TXN, versions=(0, 3))
async def handle_add_partitions_to_txn(ctx, req):
    broker = ctx.broker
    wanted = [TopicPartition(t.name, p) for t in req.v3_and_below_topics for p in t.partitions]
    denied: set[str] = set()
    if authz.enabled(ctx):
        if not authz.authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID,
                               req.v3_and_below_transactional_id):
            return _response({tp: errors.TransactionalIdAuthorizationFailed for tp in wanted})
        # Kafka never lets clients add internal topics (it leaves them out of the check).
        names = {tp.topic for tp in wanted}
        denied = names - authz.filter_authorized(ctx, AclOperation.WRITE, ResourceType.TOPIC,
                                                 names - INTERNAL_TOPICS)
    unknown = {tp for tp in wanted if broker.metadata.partition(tp) is None}
    if denied:
        results = {tp: errors.TopicAuthorizationFailed if tp.topic in denied
                   else errors.UnknownTopicOrPartition if tp in unknown
                   else errors.OperationNotAttempted for tp in wanted}
    elif unknown:
        results = {tp: errors.UnknownTopicOrPartition if tp in unknown
                   else errors.OperationNotAttempted for tp in wanted}
    else:
        svc = broker.txn_coordinator
        error = errors.CoordinatorNotAvailable if svc is None else await svc.add_partitions(
            req.v3_and_below_transactional_id, req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch, wanted)
        if error is errors.ProducerFenced and ctx.api_version < 2:
            error = errors.InvalidProducerEpoch
        results = {tp: error for tp in wanted}
    return _response(results)


def _response(results) -> AddPartitionsToTxnResponse:
    by_topic: dict[str, list] = {}
    for tp, error in results.items():
        by_topic.setdefault(tp.topic, []).append(AddPartitionsToTxnPartitionResult(
            partition_index=tp.partition, partition_error_code=error.code if error else 0))
    return AddPartitionsToTxnResponse(
        throttle_time_ms=0,
        results_by_topic_v3_and_below=[AddPartitionsToTxnTopicResult(
            name=t, results_by_partition=ps) for t, ps in by_topic.items()])
