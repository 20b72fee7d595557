"""TxnOffsetCommit (key 28), v0–3 (flexible from 3).

A transactional producer's ``send_offsets_to_transaction``: the group coordinator writes the
offsets as the producer's transactional batch in ``__consumer_offsets`` (after
AddOffsetsToTxn put that partition into the transaction); they become the group's committed
offsets only when the transaction's COMMIT marker is written there (KIP-98). v2 adds the
committed leader epoch; v3 GenerationId/MemberId/GroupInstanceId, checked when given so a
zombie consumer of an old generation cannot commit (KIP-447). Unknown partitions get
UNKNOWN_TOPIC_OR_PARTITION; before v2, COORDINATOR_LOAD_IN_PROGRESS is reported as
COORDINATOR_NOT_AVAILABLE (clients before Kafka 2.0 did not handle it), as Kafka does.

Authorization (Kafka 2.8): Write on the transactional id, then Read on the group (every
partition answers TRANSACTIONAL_ID_/GROUP_AUTHORIZATION_FAILED), then Read on each topic
(TOPIC_AUTHORIZATION_FAILED for its partitions).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.coordinator.results import OffsetCommitEntry
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.TXN_OFFSET_COMMIT, versions=(0, 3))
async def handle_txn_offset_commit(ctx, req):
    version = ctx.api_version
    broker = ctx.broker
    results: dict[TopicPartition, type | None] = {}
    entries: dict[TopicPartition, OffsetCommitEntry] = {}
    refused = _refusal(ctx, req)
    if refused is not None:
        return _response({TopicPartition(t.name, p.partition_index): refused
                          for t in req.topics for p in t.partitions})
    allowed = authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC,
                                      (t.name for t in req.topics))
    for topic in req.topics:
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p.partition_index)
            if topic.name not in allowed:
                results[tp] = errors.TopicAuthorizationFailed
                continue
            if broker.metadata.partition(tp) is None:
                results[tp] = errors.UnknownTopicOrPartition
                continue
            entries[tp] = OffsetCommitEntry(
                offset=p.committed_offset,
                leader_epoch=p.committed_leader_epoch if version >= 2 else -1,
                metadata=p.committed_metadata)
    if entries:
        svc = broker.coordinator
        if svc is None:
            results.update({tp: errors.CoordinatorNotAvailable for tp in entries})
        else:
            results.update(await svc.txn_commit_offsets(
                req.group_id, req.producer_id, req.producer_epoch, entries,
                generation_id=req.generation_id if version >= 3 else -1,
                member_id=req.member_id if version >= 3 else "",
                group_instance_id=req.group_instance_id if version >= 3 else None))
    if version < 2:
        results = {tp: errors.CoordinatorNotAvailable
                   if e is errors.CoordinatorLoadInProgress else e for tp, e in results.items()}
    return _response(results)


def _refusal(ctx, req):
    """Write on the transactional id, then Read on the group (Kafka 2.8's order)."""
    if not authz.authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID,
                           req.transactional_id):
        return errors.TransactionalIdAuthorizationFailed
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return errors.GroupAuthorizationFailed
    return None


def _response(results) -> TxnOffsetCommitResponse:
    by_topic: dict[str, list] = {}
    for tp, error in results.items():
        by_topic.setdefault(tp.topic, []).append(TxnOffsetCommitResponsePartition(
            partition_index=tp.partition, error_code=error.code if error else 0))
    return TxnOffsetCommitResponse(
        throttle_time_ms=0,
        topics=[TxnOffsetCommitResponseTopic(name=t, partitions=ps) for t, ps in by_topic.items()])
