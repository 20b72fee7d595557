"""Fetch (key 1), v4–12 (flexible from 12).

v4 is the first version that reads record batch v2 as stored. Log data is never copied into
Python: each partition's records are a tuple of file regions that the network layer sends with
``os.sendfile``. Whole batches only; at least one whole batch in the response even if larger
than the limits (KIP-74); every requested partition is answered (kafka-python checks).
Fetch sessions (v7+, KIP-227) are declined by answering SessionId 0, which makes clients send
full fetches. A consumer (ReplicaId -1) reads up to the high watermark, or with IsolationLevel 1
(read_committed) up to the last stable offset, and then gets the aborted transactions that
overlap the fetched range so it can drop their records (KIP-98); a follower reads up to the log
end. Nothing available: the request waits up to MaxWaitMs and wakes as soon as data arrives.

Authorization (Kafka 2.8): a follower's fetch needs ClusterAction on the cluster, else every
partition answers TOPIC_AUTHORIZATION_FAILED; a consumer needs Read on each topic.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.fetch import (
    AbortedTransaction, FetchableTopicResponse, FetchResponse, PartitionData)
from kafkalite.replication.service import FetchResult, PartitionFetch
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.web.broker_metrics import count_fetch


def _denied_topics(ctx, req) -> set[str]:
    names = {t.topic for t in req.topics}
    if req.replica_id >= 0:
        return set() if authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION) else names
    return names - authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC, names)


@handler(ApiKey.FETCH, versions=(4, 12))
async def handle_fetch(ctx, req):
    rm = ctx.broker.replica_manager
    version = ctx.api_version
    if version >= 7 and req.session_id != 0:
        return FetchResponse(throttle_time_ms=0, error_code=errors.FetchSessionIdNotFound.code,
                             session_id=0, responses=[])
    fetches = []
    order: list[tuple[str, list[int]]] = []
    for topic in req.topics:
        parts = []
        for p in topic.partitions:
            tp = TopicPartition(topic.topic, p.partition)
            fetches.append(PartitionFetch(tp, p.fetch_offset, p.partition_max_bytes,
                                          p.current_leader_epoch if version >= 9 else -1))
            parts.append(p.partition)
        order.append((topic.topic, parts))
    max_bytes = req.max_bytes if version >= 3 else 2**31 - 1
    read_committed = req.isolation_level == 1 and req.replica_id < 0
    denied = _denied_topics(ctx, req) if ctx.broker.authorizer is not None else None
    if denied:
        fetches = [f for f in fetches if f.tp.topic not in denied]
    results = await rm.fetch(fetches, replica_id=req.replica_id, max_wait_ms=req.max_wait_ms,
                             min_bytes=req.min_bytes, max_bytes=max_bytes,
                             read_committed=read_committed) if fetches or not denied else {}
    count_fetch(ctx.broker.metrics, results, req.replica_id >= 0)
    if denied:
        refused = FetchResult(errors.TopicAuthorizationFailed)
        results = {**results, **{TopicPartition(name, p): refused
                                 for name, parts in order if name in denied for p in parts}}
    topics = []
    for name, parts in order:
        out = []
        for p in parts:
            r = results[TopicPartition(name, p)]
            out.append(PartitionData(
                partition_index=p, error_code=r.error.code if r.error else 0,
                high_watermark=r.high_watermark, last_stable_offset=r.last_stable_offset,
                log_start_offset=r.log_start_offset,
                aborted_transactions=None if r.aborted_transactions is None else [
                    AbortedTransaction(producer_id=pid, first_offset=first)
                    for pid, first in r.aborted_transactions],
                preferred_read_replica=-1, records=list(r.records)))
        topics.append(FetchableTopicResponse(topic=name, partitions=out))
    return FetchResponse(throttle_time_ms=0, error_code=0, session_id=0, responses=topics)
