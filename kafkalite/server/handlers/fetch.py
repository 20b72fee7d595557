"""Fetch (key 1), v4–12 (flexible from 12).

v4 is the first version that reads record batch v2 as stored. Log data is never copied into
Python: each partition's records are a tuple of file regions that the network layer sends with
``os.sendfile``. Whole batches only; at least one whole batch in the response even if larger
than the limits (KIP-74); every requested partition is answered (kafka-python checks).
A consumer (ReplicaId -1) reads up to the high watermark, or with IsolationLevel 1
(read_committed) up to the last stable offset, and then gets the aborted transactions that
overlap the fetched range so it can drop their records (KIP-98); a follower reads up to the log
end. Nothing available: the request waits up to MaxWaitMs and wakes as soon as data arrives.

Fetch sessions (v7+, KIP-227; ``server/fetch_session.py`` has the rules): SessionId 0 with
SessionEpoch -1 is a sessionless full fetch (clients without sessions; no cache lookup at all).
Epoch 0 is a full fetch that also caches the partitions as a new session when the broker's
cache admits it (the response carries its id, else 0). An incremental request names only
changed partitions and forgotten ones; the broker reads, and waits on, every partition of the
session, and answers only those whose records, high watermark, last stable offset or log start
offset changed, or that have an error; order is the session's, partitions that returned data
moving to its end. A follower with a quiet session thus costs one cheap pass over its
partitions and a nearly empty response instead of decoding and answering all of them.

Authorization (Kafka 2.8): a follower's fetch needs ClusterAction on the cluster, else every
partition answers TOPIC_AUTHORIZATION_FAILED; a consumer needs Read on each topic. In a session
this is checked on every request for all its partitions, as Kafka does.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.fetch import (
    AbortedTransaction, FetchableTopicResponse, FetchResponse, PartitionData)
from kafkalite.replication.service import FetchResult, PartitionFetch, monotonic_ms
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.server.fetch_session import FINAL_EPOCH, INVALID_SESSION_ID, ContextKind
from kafkalite.web.broker_metrics import count_fetch


def _denied_topics(ctx, replica_id: int, names: set[str]) -> set[str]:
    if replica_id >= 0:
        return set() if authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION) else names
    return names - authz.filter_authorized(ctx, AclOperation.READ, ResourceType.TOPIC, names)


def _session_error(error: type[errors.KafkaError], session_id: int = INVALID_SESSION_ID):
    return FetchResponse(throttle_time_ms=0, error_code=error.code, session_id=session_id,
                         responses=[])


def _partition_data(p: int, r: FetchResult) -> PartitionData:
    return PartitionData(
        partition_index=p, error_code=r.error.code if r.error else 0,
        high_watermark=r.high_watermark, last_stable_offset=r.last_stable_offset,
        log_start_offset=r.log_start_offset,
        aborted_transactions=None if r.aborted_transactions is None else [
            AbortedTransaction(producer_id=pid, first_offset=first)
            for pid, first in r.aborted_transactions],
        preferred_read_replica=-1, records=list(r.records))


def _response_topics(pairs) -> list[FetchableTopicResponse]:
    """One topic entry per run of same-topic partitions, keeping the partitions' order (as
    Kafka's response does: a session's order may visit a topic more than once)."""
    runs: list[tuple[str, list[PartitionData]]] = []
    name = None
    out: list[PartitionData] = []
    for tp, r in pairs:
        if tp.topic != name:
            name = tp.topic
            out = []
            runs.append((name, out))
        out.append(_partition_data(tp.partition, r))
    return [FetchableTopicResponse(topic=n, partitions=parts) for n, parts in runs]


@handler(ApiKey.FETCH, versions=(4, 12))
async def handle_fetch(ctx, req):
    broker = ctx.broker
    rm = broker.replica_manager
    version = ctx.api_version
    follower = req.replica_id >= 0
    epochs = version >= 9
    fetches = [PartitionFetch(TopicPartition(topic.topic, p.partition), p.fetch_offset,
                              p.partition_max_bytes, p.current_leader_epoch if epochs else -1)
               for topic in req.topics for p in topic.partitions]
    kind = ContextKind.SESSIONLESS
    session = context = None
    if version >= 7 and (req.session_id != INVALID_SESSION_ID
                         or req.session_epoch != FINAL_EPOCH):
        forgotten = [TopicPartition(t.topic, p)
                     for t in req.forgotten_topics_data for p in t.partitions]
        context = broker.fetch_sessions.new_context(
            req.session_id, req.session_epoch, ((f.tp, f) for f in fetches), forgotten,
            now_ms=monotonic_ms())
        kind = context.kind
        if kind is ContextKind.SESSION_ERROR:
            return _session_error(context.error)
        if kind is ContextKind.INCREMENTAL:
            session = context.session
            fetches = session.requests()
    max_bytes = req.max_bytes if version >= 3 else 2**31 - 1
    read_committed = req.isolation_level == 1 and req.replica_id < 0
    denied = None
    if broker.authorizer is not None:
        denied = _denied_topics(ctx, req.replica_id, {f.tp.topic for f in fetches})
    readable = [f for f in fetches if f.tp.topic not in denied] if denied else fetches
    results = await rm.fetch(readable, replica_id=req.replica_id, max_wait_ms=req.max_wait_ms,
                             min_bytes=req.min_bytes, max_bytes=max_bytes,
                             read_committed=read_committed) if readable or not denied else {}
    count_fetch(broker.metrics, results, follower)
    if denied:
        refused = FetchResult(errors.TopicAuthorizationFailed)
        results = {**results, **{f.tp: refused for f in fetches if f.tp.topic in denied}}
    session_id = INVALID_SESSION_ID
    if session is not None:
        if session.epoch != context.next_epoch:
            # Another request of this session was served while this one waited (a duplicate).
            return _session_error(errors.InvalidFetchSessionEpoch, session.id)
        pairs = session.select_changed(results)
        session_id = session.id
    else:
        pairs = [(f.tp, results[f.tp]) for f in fetches]
        if kind is ContextKind.FULL:
            def cached_partitions():
                # An error caches high watermark -1: the partition is sent again once it clears.
                cached = {}
                for f in fetches:
                    r = results[f.tp]
                    cached[f.tp] = [f, -1 if r.error else r.high_watermark,
                                    r.last_stable_offset, r.log_start_offset]
                return cached
            session_id = broker.fetch_sessions.maybe_create_session(
                monotonic_ms(), follower, len(results), cached_partitions)
    return FetchResponse(throttle_time_ms=0, error_code=0, session_id=session_id,
                         responses=_response_topics(pairs))
