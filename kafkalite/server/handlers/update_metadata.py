"""UpdateMetadata (key 6), inter-broker, v0–7 served; the controller sends v6.

Replaces this broker's metadata cache: live brokers with their endpoints, and partition
leaders/ISR. Leader -2 marks a topic being deleted: it disappears from client metadata, and the
group coordinator drops the groups' committed offsets of it (Kafka's handleDeletedPartitions).
Stale controller epochs are refused (STALE_CONTROLLER_EPOCH).

Authorization: ClusterAction on the cluster, else CLUSTER_AUTHORIZATION_FAILED (Kafka).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import BrokerEndpoint, BrokerInfo
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.update_metadata import UpdateMetadataResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler
from kafkalite.server.metadata_cache import PartitionMetadata


def _partitions(req, version):
    states = ([(s.topic_name, s) for s in req.ungrouped_partition_states] if version < 5 else
              [(t.topic_name, s) for t in req.topic_states for s in t.partition_states])
    for topic, s in states:
        yield topic, s.partition_index, PartitionMetadata(
            leader=s.leader, leader_epoch=s.leader_epoch, isr=tuple(s.isr),
            replicas=tuple(s.replicas), offline_replicas=tuple(s.offline_replicas),
            zk_version=s.zk_version, controller_epoch=s.controller_epoch)


def _brokers(req, version):
    for b in req.live_brokers:
        if version == 0:
            eps = (BrokerEndpoint("PLAINTEXT", b.v0_host, b.v0_port),)
        else:
            eps = tuple(BrokerEndpoint(e.listener if version >= 3 else "PLAINTEXT", e.host, e.port)
                        for e in b.endpoints)
        yield BrokerInfo(b.id, eps, b.rack)


@handler(ApiKey.UPDATE_METADATA, versions=(0, 7), inter_broker=True)
async def handle_update_metadata(ctx, req):
    broker = ctx.broker
    version = ctx.api_version
    if not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        return UpdateMetadataResponse(error_code=errors.ClusterAuthorizationFailed.code)
    if req.controller_epoch < broker.metadata.controller_epoch:
        return UpdateMetadataResponse(error_code=errors.StaleControllerEpoch.code)
    if version >= 5 and broker.is_stale_broker_epoch(req.broker_epoch):
        return UpdateMetadataResponse(error_code=errors.StaleBrokerEpoch.code)
    deleted = broker.metadata.apply_update(
        controller_id=req.controller_id, controller_epoch=req.controller_epoch,
        brokers=list(_brokers(req, version)), partitions=list(_partitions(req, version)))
    for topic in deleted:
        broker.topic_overrides.pop(topic, None)
    if deleted and broker.coordinator is not None:
        broker.coordinator.handle_deleted_topics(deleted)
    broker.notify_metadata_changed()
    return UpdateMetadataResponse(error_code=0)
