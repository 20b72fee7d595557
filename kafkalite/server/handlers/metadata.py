"""Metadata (key 3), v0–9 (flexible from 9).

Served from the metadata cache that the controller's UpdateMetadata requests keep current.
Brokers are listed with the endpoint of the listener the request arrived on. v0: an empty
topic list means all topics; v1+: null means all, empty means none. An unknown topic is
auto-created when ``auto.create.topics.enable`` and (v4+) ``AllowAutoTopicCreation`` allow it,
and answered LEADER_NOT_AVAILABLE until its leader is known (clients retry).

Authorization (Kafka 2.8): topics the principal may not Describe are left out of an
all-topics answer and are TOPIC_AUTHORIZATION_FAILED when named (without saying whether they
exist). Auto-creating a named topic also needs Create on the cluster or on the topic, else
TOPIC_AUTHORIZATION_FAILED. v8+ authorized-operation bit fields (KIP-430) are filled when asked
for; the cluster's only for a principal that may Describe the cluster (else 0).
"""

from __future__ import annotations

import logging

import attrs

from kafkalite import errors
from kafkalite.model import INTERNAL_TOPICS, validate_topic_name
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import Encoded
from kafkalite.protocol.messages.metadata import (
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import NOT_REQUESTED_OPERATIONS, AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.server.topic_admin import auto_create_topic

log = logging.getLogger(__name__)


def _topic_response(ctx, name: str) -> MetadataResponseTopic:
    cache = ctx.broker.metadata
    parts = cache.topics[name]
    out = []
    for p in sorted(parts):
        m = parts[p]
        leader = m.leader if cache.alive(m.leader) else -1
        err = 0 if leader >= 0 else errors.LeaderNotAvailable.code
        out.append(MetadataResponsePartition(
            error_code=err, partition_index=p, leader_id=leader, leader_epoch=m.leader_epoch,
            replica_nodes=list(m.replicas), isr_nodes=list(m.isr),
            offline_replicas=list(m.offline_replicas)))
    return MetadataResponseTopic(error_code=0, name=name, is_internal=name in INTERNAL_TOPICS,
                                 partitions=out)


_MAX_CACHED = 256


@handler(ApiKey.METADATA, versions=(0, 9))
async def handle_metadata(ctx, req):
    """Answers without authorization checks depend only on the request and the metadata
    cache, so they are kept encoded in ``MetadataCache.derived`` (dropped on every
    UpdateMetadata) per version, topic list, listener and flags. Clients ask the same question
    over and over (librdkafka every ``topic.metadata.refresh.interval.ms`` and on each
    error). Answers with a topic-level error are not kept: those trigger auto-creation or
    will change as soon as the topic is known."""
    derived = getattr(ctx.broker.metadata, "derived", None)
    if derived is None or authz.enabled(ctx):
        return await _metadata(ctx, req)
    cache = ctx.broker.metadata
    version = ctx.api_version
    key = (version, None if req.topics is None else tuple(t.name for t in req.topics),
           ctx.listener, req.allow_auto_topic_creation, req.include_cluster_authorized_operations,
           req.include_topic_authorized_operations, cache.cluster_id, cache.controller_id)
    hit = derived.get(key)
    if hit is not None:
        return hit
    response = await _metadata(ctx, req)
    if all(t.error_code == 0 for t in response.topics):
        if len(derived) >= _MAX_CACHED:
            derived.clear()
        response = derived[key] = Encoded(response, version)
    return response


async def _metadata(ctx, req):
    broker = ctx.broker
    cache = broker.metadata
    version = ctx.api_version
    if req.topics is None or (version == 0 and not req.topics):
        names = sorted(cache.topics)
        requested = False
    else:
        names = [t.name for t in req.topics]
        requested = True
    allow_auto = req.allow_auto_topic_creation if version >= 4 else True
    denied: set[str] = set()
    if authz.enabled(ctx):
        denied = set(names) - authz.filter_authorized(ctx, AclOperation.DESCRIBE,
                                                      ResourceType.TOPIC, names)
        if not requested:
            names = [n for n in names if n not in denied]
            denied = set()
    may_create_any = None
    topics = []
    for name in names:
        if name in denied:
            topics.append(MetadataResponseTopic(error_code=errors.TopicAuthorizationFailed.code,
                                                name=name, partitions=[]))
            continue
        if name in cache.topics:
            topics.append(_topic_response(ctx, name))
            continue
        reason = validate_topic_name(name or "")
        if reason:
            topics.append(MetadataResponseTopic(error_code=errors.InvalidTopicException.code,
                                                name=name, partitions=[]))
            continue
        code = errors.UnknownTopicOrPartition.code
        if requested and allow_auto and broker.config["auto.create.topics.enable"]:
            if may_create_any is None:
                may_create_any = authz.authorize_cluster(ctx, AclOperation.CREATE)
            if not may_create_any and not authz.authorize(ctx, AclOperation.CREATE,
                                                          ResourceType.TOPIC, name):
                topics.append(MetadataResponseTopic(
                    error_code=errors.TopicAuthorizationFailed.code, name=name,
                    is_internal=name in INTERNAL_TOPICS, partitions=[]))
                continue
            try:
                await auto_create_topic(broker, name)
                code = errors.LeaderNotAvailable.code
            except errors.TopicAlreadyExists:
                code = errors.LeaderNotAvailable.code
            except errors.KafkaError as e:
                log.info("auto-creation of %s failed: %s", name, e)
                code = e.code
        topics.append(MetadataResponseTopic(error_code=code, name=name, partitions=[]))
    brokers = []
    for b in sorted(cache.brokers.values(), key=lambda b: b.broker_id):
        ep = cache.endpoint(b.broker_id, ctx.listener)
        if ep is not None:
            brokers.append(MetadataResponseBroker(node_id=b.broker_id, host=ep.host, port=ep.port,
                                                  rack=b.rack))
    cluster_ops = NOT_REQUESTED_OPERATIONS
    if version >= 8:
        if req.include_topic_authorized_operations:
            topics = [attrs.evolve(t, topic_authorized_operations=authz.authorized_operations(
                ctx, ResourceType.TOPIC, t.name))
                if t.error_code != errors.TopicAuthorizationFailed.code else t for t in topics]
        if req.include_cluster_authorized_operations:
            cluster_ops = authz.authorized_operations(ctx, ResourceType.CLUSTER,
                                                      authz.CLUSTER_NAME) \
                if authz.authorize_cluster(ctx, AclOperation.DESCRIBE) else 0
    return MetadataResponse(throttle_time_ms=0, brokers=brokers, cluster_id=cache.cluster_id,
                            controller_id=cache.controller_id, topics=topics,
                            cluster_authorized_operations=cluster_ops)
