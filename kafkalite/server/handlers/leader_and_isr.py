"""LeaderAndIsr (key 4), inter-broker, v0–5 served; the controller sends v4.

Fenced twice: a request from an older controller epoch than the highest seen is
STALE_CONTROLLER_EPOCH, and one addressed to an earlier incarnation of this broker (BrokerEpoch
older than the czxid of our current registration, KIP-380) is STALE_BROKER_EPOCH. Per
partition the replica manager applies only newer leader epochs.

Authorization: ClusterAction on the cluster, else CLUSTER_AUTHORIZATION_FAILED (Kafka).
"""

from __future__ import annotations

import logging

import trio

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.leader_and_isr import (
    LeaderAndIsrPartitionError, LeaderAndIsrResponse)
from kafkalite.replication.service import LeadershipChange
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler

state_change_log = logging.getLogger("state.change.logger")

# Partitions applied between two chances for the broker's other tasks to run.
PARTITIONS_PER_BATCH = 500


def _states(req, version):
    if version >= 2:
        for t in req.topic_states:
            for s in t.partition_states:
                yield t.topic_name, s
    else:
        for s in req.ungrouped_partition_states:
            yield s.topic_name, s


@handler(ApiKey.LEADER_AND_ISR, versions=(0, 5), inter_broker=True)
async def handle_leader_and_isr(ctx, req):
    broker = ctx.broker
    version = ctx.api_version
    if not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        refused = errors.ClusterAuthorizationFailed.code
        return LeaderAndIsrResponse(error_code=refused, partition_errors=[
            LeaderAndIsrPartitionError(topic_name=topic, partition_index=s.partition_index,
                                       error_code=refused) for topic, s in _states(req, version)])
    if req.controller_epoch < broker.metadata.controller_epoch:
        return LeaderAndIsrResponse(error_code=errors.StaleControllerEpoch.code, partition_errors=[])
    if version >= 2 and broker.is_stale_broker_epoch(req.broker_epoch):
        return LeaderAndIsrResponse(error_code=errors.StaleBrokerEpoch.code, partition_errors=[])
    state_change_log.info("[Broker id=%d] Handling LeaderAndIsr request correlationId %d from "
                          "controller %d epoch %d for %d partitions", broker.broker_id,
                          ctx.header.correlation_id, req.controller_id, req.controller_epoch,
                          sum(1 for _ in _states(req, version)))
    broker.metadata.controller_epoch = max(broker.metadata.controller_epoch, req.controller_epoch)
    for leader in req.live_leaders:
        broker.leader_addresses[leader.broker_id] = (leader.host_name, leader.port)
    # Configs of topics new to this broker, read in one pipelined round (not one round trip
    # per topic: a restart with thousands of topics would wait on them in turn).
    unknown = sorted({t for t, _ in _states(req, version)} - set(broker.topic_overrides))
    if unknown:
        broker.topic_overrides.update(await broker.zk.get_topic_configs(unknown))
    # Batches for the replica manager: one fetcher update per leader, one wake-up each.
    changes = [LeadershipChange(
        TopicPartition(topic, s.partition_index), leader=s.leader, leader_epoch=s.leader_epoch,
        isr=tuple(s.isr), replicas=tuple(s.replicas), partition_epoch=s.partition_epoch,
        controller_epoch=s.controller_epoch, is_new=bool(s.is_new) if version >= 1 else False)
        for topic, s in _states(req, version)]
    errs = []
    for i in range(0, len(changes), PARTITIONS_PER_BATCH):
        if i:
            # Thousands of partitions (a failover) take this broker a while: between
            # batches it answers others. On the controller's own broker that includes
            # sending the same failover's LeaderAndIsr to the other brokers.
            await trio.sleep(0)
        errs += broker.replica_manager.become_leaders_or_followers(
            changes[i:i + PARTITIONS_PER_BATCH])
    return LeaderAndIsrResponse(error_code=0, partition_errors=[
        LeaderAndIsrPartitionError(topic_name=c.tp.topic, partition_index=c.tp.partition,
                                   error_code=err.code if err else 0)
        for c, err in zip(changes, errs)])
