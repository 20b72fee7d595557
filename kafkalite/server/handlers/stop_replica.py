"""StopReplica (key 5), inter-broker, v0–3 served; the controller sends v3.

Stops serving (and, with DeletePartition, deletes the log of) the listed partitions; used by
topic deletion and reassignment. Fenced on the controller epoch like LeaderAndIsr. A deleted
partition's directory is renamed ``*-delete`` before the answer and its files are removed
``file.delete.delay.ms`` later by the log service, as Kafka does.

Authorization: ClusterAction on the cluster, else CLUSTER_AUTHORIZATION_FAILED (Kafka).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.stop_replica import StopReplicaPartitionError, StopReplicaResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler


def _partitions(req, version):
    if version >= 3:
        for t in req.topic_states:
            for s in t.partition_states:
                yield t.topic_name, s.partition_index, s.delete_partition
    elif version >= 1:
        for t in req.topics:
            for p in t.partition_indexes:
                yield t.name, p, req.delete_partitions
    else:
        for p in req.ungrouped_partitions:
            yield p.topic_name, p.partition_index, req.delete_partitions


@handler(ApiKey.STOP_REPLICA, versions=(0, 3), inter_broker=True)
async def handle_stop_replica(ctx, req):
    broker = ctx.broker
    version = ctx.api_version
    if not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        refused = errors.ClusterAuthorizationFailed.code
        return StopReplicaResponse(error_code=refused, partition_errors=[
            StopReplicaPartitionError(topic_name=topic, partition_index=p, error_code=refused)
            for topic, p, _ in _partitions(req, version)])
    if req.controller_epoch < broker.metadata.controller_epoch:
        return StopReplicaResponse(error_code=errors.StaleControllerEpoch.code, partition_errors=[])
    if version >= 1 and broker.is_stale_broker_epoch(req.broker_epoch):
        return StopReplicaResponse(error_code=errors.StaleBrokerEpoch.code, partition_errors=[])
    stops = [(TopicPartition(topic, p), bool(delete)) for topic, p, delete in
             _partitions(req, version)]
    staged = broker.replica_manager.stop_replicas(stops)
    if staged:
        if broker.log_service is not None:
            broker.log_service.schedule_log_deletion(staged)
        else:   # before the log service runs (just after registering): at once
            for lg in staged:
                broker.log_manager.delete_staged(lg)
    return StopReplicaResponse(error_code=0, partition_errors=[
        StopReplicaPartitionError(topic_name=tp.topic, partition_index=tp.partition,
                                  error_code=0) for tp, _ in stops])
