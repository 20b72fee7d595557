"""OffsetForLeaderEpoch (key 23), v0–4 (flexible from 4).

v0 answers only an end offset; v1 adds the epoch found (KIP-279); v2 adds CurrentLeaderEpoch
and the throttle time (KIP-320: consumers validate their position after a leader change); v3
adds ReplicaId (-1 consumer, -2 debug, >= 0 a follower; only informative here).

For each partition the leader answers where the requested epoch ends in its log, from the
leader-epoch cache (``storage/leader_epoch.py``): the latest epoch ends at the log end offset,
an older one at the start of the next epoch (with the largest epoch <= requested), and an
unknown one (above the latest, or -1) is ``(-1, -1)`` with no error — the caller decides.

Per-partition errors, in Kafka's order (``Partition.getLocalLog``): a CurrentLeaderEpoch (>= 0)
below ours → FENCED_LEADER_EPOCH, above ours → UNKNOWN_LEADER_EPOCH; then not the leader →
NOT_LEADER_OR_FOLLOWER. A partition this broker does not host is NOT_LEADER_OR_FOLLOWER if the
cluster knows it, else UNKNOWN_TOPIC_OR_PARTITION. Clients call it too, so it is not
inter-broker-only: ClusterAction on the cluster (followers) or else Describe on each topic
(consumers, KIP-320) is required; other topics answer TOPIC_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.offset_for_leader_epoch import (
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderPartition,
    OffsetForLeaderTopicResult)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler

if TYPE_CHECKING:
    from kafkalite.replication.partition import Partition


def _partition_error(broker, tp: TopicPartition,
                     current_leader_epoch: int
                     ) -> tuple[type[KafkaError] | None, Partition | None]:
    """``(error, partition)`` of one requested partition."""
    p = broker.replica_manager.get_partition(tp)
    if p is None:
        return broker.replica_manager.missing_partition_error(tp), None
    if current_leader_epoch >= 0:
        if current_leader_epoch < p.leader_epoch:
            return errors.FencedLeaderEpoch, p
        if current_leader_epoch > p.leader_epoch:
            return errors.UnknownLeaderEpoch, p
    if not p.is_leader:
        return errors.NotLeaderOrFollower, p
    return None, p


def _end_offset(broker, topic: str, part: OffsetForLeaderPartition) -> EpochEndOffset:
    tp = TopicPartition(topic, part.partition)
    error, p = _partition_error(broker, tp, part.current_leader_epoch)
    if error is not None:
        return EpochEndOffset(error_code=error.code, partition=part.partition)
    epoch, end_offset = p.log.end_offset_for_epoch(part.leader_epoch)
    return EpochEndOffset(error_code=0, partition=part.partition, leader_epoch=epoch,
                          end_offset=end_offset)


@handler(ApiKey.OFFSET_FOR_LEADER_EPOCH, versions=(0, 4))
async def handle_offset_for_leader_epoch(ctx, req):
    denied: set[str] = set()
    if authz.enabled(ctx) and not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        names = {t.topic for t in req.topics}
        denied = names - authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC,
                                                 names)
    refused = errors.TopicAuthorizationFailed.code
    return OffsetForLeaderEpochResponse(throttle_time_ms=0, topics=[
        OffsetForLeaderTopicResult(topic=t.topic, partitions=[
            EpochEndOffset(error_code=refused, partition=part.partition) if t.topic in denied
            else _end_offset(ctx.broker, t.topic, part) for part in t.partitions])
        for t in req.topics])
