"""ControlledShutdown (key 7), inter-broker, v0–3 served; brokers send v3.

A stopping broker asks the controller to move its leaderships away first (zookeeper-layout.md
§6.4, §6.9). Only the controller answers (NOT_CONTROLLER elsewhere, like ZooKeeper-mode
Kafka). v0 has request header v0 (no client id); v2+ carries BrokerEpoch, and a request from an
earlier incarnation of the broker is STALE_BROKER_EPOCH; an unregistered broker is
BROKER_NOT_AVAILABLE. RemainingPartitions lists what the broker still leads (no other in-sync
replica could take over): the broker retries while it is not empty.

Errors are turned into the response here rather than by the dispatcher because the
controller's own broker reaches this handler without a socket (``call_local``).

Authorization: ClusterAction on the cluster, else CLUSTER_AUTHORIZATION_FAILED (Kafka).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.controlled_shutdown import (
    ControlledShutdownResponse, RemainingPartition)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler


def _error(error: type[errors.KafkaError] | errors.KafkaError) -> ControlledShutdownResponse:
    return ControlledShutdownResponse(error_code=error.code, remaining_partitions=())


@handler(ApiKey.CONTROLLED_SHUTDOWN, versions=(0, 3), inter_broker=True)
async def handle_controlled_shutdown(ctx, req):
    if not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        return _error(errors.ClusterAuthorizationFailed)
    controller = ctx.broker.controller
    if controller is None:
        return _error(errors.NotController)
    broker_epoch = req.broker_epoch if ctx.api_version >= 2 else -1
    try:
        remaining = await controller.controlled_shutdown(req.broker_id, broker_epoch)
    except errors.KafkaError as e:
        return _error(e)
    return ControlledShutdownResponse(
        error_code=0,
        remaining_partitions=tuple(
            RemainingPartition(topic_name=tp.topic, partition_index=tp.partition)
            for tp in sorted(remaining, key=lambda tp: (tp.topic, tp.partition))))
