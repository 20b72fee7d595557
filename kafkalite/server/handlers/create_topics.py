"""CreateTopics (key 19), v0–5 (flexible from 5).

Only the controller creates topics (NOT_CONTROLLER elsewhere, as in ZooKeeper-mode Kafka).
The topic is written to ZooKeeper; the answer waits (up to TimeoutMs) until the metadata shows
a leader for every partition. v1 adds validateOnly, v4 lets partitions/replication factor be
-1 (broker defaults), v5 returns the topic's partitions, replication factor and configs.

Authorization (Kafka 2.8): Create on the cluster, or else on each topic
(TOPIC_AUTHORIZATION_FAILED "Authorization failed."); v5+ configs are returned only for topics
the principal may DescribeConfigs (TopicConfigErrorCode TOPIC_AUTHORIZATION_FAILED otherwise).
"""

from __future__ import annotations

import attrs

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.create_topics import (
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.server.topic_admin import create_topic, wait_for_metadata


def _result(name, version, error=None, message=None, partitions=-1, rf=-1, configs=None):
    return CreatableTopicResult(
        name=name, error_code=error.code if error else 0,
        error_message=(message or error.default_message()) if error and version >= 1 else None,
        num_partitions=partitions, replication_factor=rf, configs=configs)


@handler(ApiKey.CREATE_TOPICS, versions=(0, 5))
async def handle_create_topics(ctx, req):
    broker = ctx.broker
    version = ctx.api_version
    results = {}
    waiting = {}
    seen = set()
    may_create_any = authz.authorize_cluster(ctx, AclOperation.CREATE)
    for t in req.topics:
        if t.name in seen:
            results[t.name] = _result(t.name, version, errors.InvalidRequest,
                                      f"Duplicate topic name {t.name} in the request")
            continue
        seen.add(t.name)
        if broker.controller is None:
            results[t.name] = _result(t.name, version, errors.NotController,
                                      "This is not the correct controller for this cluster.")
            continue
        if not may_create_any and not authz.authorize(ctx, AclOperation.CREATE,
                                                      ResourceType.TOPIC, t.name):
            results[t.name] = _result(t.name, version, errors.TopicAuthorizationFailed,
                                      "Authorization failed.")
            continue
        nparts = t.num_partitions if t.num_partitions != -1 else broker.config["num.partitions"]
        rf = t.replication_factor if t.replication_factor != -1 else \
            broker.config["default.replication.factor"]
        assignment = {a.partition_index: list(a.broker_ids) for a in t.assignments}
        if assignment and (t.num_partitions != -1 or t.replication_factor != -1):
            results[t.name] = _result(t.name, version, errors.InvalidRequest,
                                      "Both numPartitions or replicationFactor and "
                                      "replicasAssignments were set.")
            continue
        try:
            parts = await create_topic(broker, t.name, num_partitions=nparts,
                                       replication_factor=rf, assignment=assignment or None,
                                       configs={c.name: c.value for c in t.configs},
                                       validate_only=bool(req.validate_only))
        except KafkaError as e:
            results[t.name] = _result(t.name, version, type(e), str(e))
            continue
        configs = None
        if version >= 5:
            values = broker.topic_config_values(t.name)
            explicit = {c.name for c in t.configs}
            configs = [CreatableTopicConfigs(
                name=k, value=",".join(v) if isinstance(v, list) else str(v), read_only=False,
                config_source=1 if k in explicit else 5, is_sensitive=False)
                for k, v in sorted(values.items())]
        results[t.name] = _result(t.name, version, partitions=len(parts),
                                  rf=len(next(iter(parts.values()))), configs=configs)
        if not req.validate_only:
            waiting[t.name] = len(parts)
    if waiting:
        late = await wait_for_metadata(broker, waiting, req.timeout_ms)
        for name in late:
            results[name] = _result(name, version, errors.RequestTimedOut,
                                    "Timed out waiting for topic creation to complete")
    if version >= 5 and authz.enabled(ctx):
        _hide_configs(ctx, results)
    return CreateTopicsResponse(throttle_time_ms=0, topics=[results[n] for n in results])


def _hide_configs(ctx, results: dict[str, CreatableTopicResult]) -> None:
    """Without DescribeConfigs on a topic its configs, partition count and replication factor
    are not returned and TopicConfigErrorCode says why (Kafka 2.8)."""
    allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC,
                                      results)
    for name, r in results.items():
        if name not in allowed:
            results[name] = attrs.evolve(
                r, topic_config_error_code=errors.TopicAuthorizationFailed.code,
                num_partitions=-1, replication_factor=-1, configs=None)
