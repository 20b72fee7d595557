"""DescribeProducers (key 61), v0 (flexible): the active producers of partitions (KIP-664).

Answered by each partition's leader from its producer state: producer id and epoch, last
sequence and timestamp, the coordinator epoch of its last marker, and the first offset of its
open transaction (-1 if none). ``kafka-transactions.sh describe-producers`` and
``find-hanging`` read it.

Authorization: Read on each topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_producers import (
    DescribeProducersResponse, PartitionResponse, ProducerState, TopicResponse)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


def _partition(broker, tp: TopicPartition) -> PartitionResponse:
    p = broker.replica_manager.get_partition(tp)
    error = None
    if p is None:
        error = broker.replica_manager.missing_partition_error(tp)
    elif not p.is_leader:
        error = errors.NotLeaderOrFollower
    if error is not None:
        return PartitionResponse(partition_index=tp.partition, error_code=error.code,
                                 error_message=None, active_producers=[])
    producers = [ProducerState(producer_id=e.producer_id, producer_epoch=e.producer_epoch,
                               last_sequence=e.last_seq, last_timestamp=e.last_timestamp,
                               coordinator_epoch=e.coordinator_epoch,
                               current_txn_start_offset=e.current_txn_first_offset)
                 for e in p.log.producer_state.producers.values()]
    return PartitionResponse(partition_index=tp.partition, error_code=0, error_message=None,
                             active_producers=producers)


@handler(ApiKey.DESCRIBE_PRODUCERS, versions=(0, 0))
async def handle_describe_producers(ctx, req):
    allowed = authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    refused = errors.TopicAuthorizationFailed.code
    return DescribeProducersResponse(throttle_time_ms=0, topics=[
        TopicResponse(name=t.name, partitions=[
            _partition(ctx.broker, TopicPartition(t.name, p)) if t.name in allowed
            else PartitionResponse(partition_index=p, error_code=refused, error_message=None,
                                   active_producers=[])
            for p in t.partition_indexes])
        for t in req.topics])
