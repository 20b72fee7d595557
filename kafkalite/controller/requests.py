"""The controller's requests to brokers, built from its context (pure).

LeaderAndIsr v4 (adding/removing replicas, is_new), UpdateMetadata v6 and StopReplica v3, one
request per target broker, each carrying that broker's epoch (KIP-380) so a request meant for
an earlier incarnation of a broker is refused by the new one. The controller shell queues them
per broker in order (UpdateMetadata before the LeaderAndIsr that relies on it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from kafkalite.controller.context import ControllerContext
from kafkalite.model import BrokerInfo, TopicPartition
from kafkalite.protocol.messages.leader_and_isr import (
    LeaderAndIsrLiveLeader, LeaderAndIsrPartitionState, LeaderAndIsrRequest,
    LeaderAndIsrTopicState)
from kafkalite.protocol.messages.stop_replica import (
    StopReplicaPartitionState, StopReplicaRequest, StopReplicaTopicState)
from kafkalite.protocol.messages.update_metadata import (
    UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
    UpdateMetadataRequest, UpdateMetadataTopicState)
from kafkalite.zk.znodes import LEADER_DURING_DELETE

__all__ = ["LEADER_AND_ISR_VERSION", "UPDATE_METADATA_VERSION", "STOP_REPLICA_VERSION",
           "leader_and_isr_requests", "update_metadata_requests", "stop_replica_requests"]

LEADER_AND_ISR_VERSION = 4
UPDATE_METADATA_VERSION = 6
STOP_REPLICA_VERSION = 3

_SECURITY_PROTOCOL_IDS = {"PLAINTEXT": 0, "SSL": 1, "SASL_PLAINTEXT": 2, "SASL_SSL": 3}


def _leader_state(ctx: ControllerContext, tp: TopicPartition, is_new: bool
                  ) -> LeaderAndIsrPartitionState:
    l = ctx.leadership[tp]
    ra = ctx.full_assignment(tp)
    return LeaderAndIsrPartitionState(
        topic_name=tp.topic, partition_index=tp.partition, controller_epoch=l.controller_epoch,
        leader=l.leader, leader_epoch=l.leader_epoch, isr=tuple(l.isr),
        partition_epoch=l.zk_version, replicas=ra.replicas, adding_replicas=ra.adding,
        removing_replicas=ra.removing, is_new=is_new)


def leader_and_isr_requests(ctx: ControllerContext, tps: Iterable[TopicPartition], *,
                            controller_id: int, listener: str,
                            is_new: Collection[TopicPartition] = (),
                            recipients: Collection[int] | None = None,
                            exclude: Collection[int] = ()) -> dict[int, LeaderAndIsrRequest]:
    """LeaderAndIsr per live replica broker of ``tps`` (those in ``recipients`` if given,
    minus ``exclude``). Shutting-down brokers are live here: a leader being moved away must
    hear that it is now a follower."""
    per_broker: dict[int, dict[str, list[LeaderAndIsrPartitionState]]] = {}
    leaders: dict[int, set[int]] = {}
    for tp in tps:
        if tp not in ctx.leadership:
            continue
        state = None   # built once, shared by the requests of all its replicas
        for r in ctx.replicas(tp):
            if r not in ctx.live_brokers or r in exclude:
                continue
            if recipients is not None and r not in recipients:
                continue
            if state is None:
                state = _leader_state(ctx, tp, tp in is_new)
            per_broker.setdefault(r, {}).setdefault(tp.topic, []).append(state)
            leaders.setdefault(r, set()).add(state.leader)
    out = {}
    for b, topics in per_broker.items():
        live_leaders = []
        for lid in sorted(leaders[b]):
            info = ctx.live_brokers.get(lid)
            ep = info.endpoint(listener) if info else None
            if ep is not None:
                live_leaders.append(LeaderAndIsrLiveLeader(broker_id=lid, host_name=ep.host,
                                                           port=ep.port))
        out[b] = LeaderAndIsrRequest(
            controller_id=controller_id, controller_epoch=ctx.epoch,
            broker_epoch=ctx.live_brokers[b].broker_epoch,
            topic_states=tuple(LeaderAndIsrTopicState(topic_name=t, partition_states=tuple(ps))
                               for t, ps in sorted(topics.items())),
            live_leaders=tuple(live_leaders))
    return out


def _broker_entry(b: BrokerInfo) -> UpdateMetadataBroker:
    return UpdateMetadataBroker(
        id=b.broker_id, rack=b.rack,
        endpoints=tuple(UpdateMetadataEndpoint(
            port=e.port, host=e.host, listener=e.listener,
            security_protocol=_SECURITY_PROTOCOL_IDS.get(e.security_protocol, 0))
            for e in b.endpoints))


def update_metadata_requests(ctx: ControllerContext, brokers: Iterable[int],
                             tps: Iterable[TopicPartition], *, controller_id: int
                             ) -> dict[int, UpdateMetadataRequest]:
    """UpdateMetadata with the live brokers and the given partitions, for each live broker of
    ``brokers``. Brokers merge partitions into their cache, so a subset is an update. Topics
    queued for deletion are sent with leader -2, which removes them from brokers' metadata."""
    by_topic: dict[str, list[UpdateMetadataPartitionState]] = {}
    for tp in tps:
        l = ctx.leadership.get(tp)
        if l is None:
            continue
        replicas = ctx.replicas(tp)
        by_topic.setdefault(tp.topic, []).append(UpdateMetadataPartitionState(
            topic_name=tp.topic, partition_index=tp.partition,
            controller_epoch=l.controller_epoch,
            leader=LEADER_DURING_DELETE if tp.topic in ctx.topics_to_delete else l.leader,
            leader_epoch=l.leader_epoch, isr=tuple(l.isr), zk_version=l.zk_version,
            replicas=tuple(replicas),
            offline_replicas=tuple(r for r in replicas if not ctx.replica_online(tp, r))))
    live = tuple(_broker_entry(b) for b in sorted(ctx.live_brokers.values(),
                                                  key=lambda b: b.broker_id))
    topic_states = tuple(UpdateMetadataTopicState(topic_name=t, partition_states=tuple(ps))
                         for t, ps in sorted(by_topic.items()))
    return {b: UpdateMetadataRequest(
        controller_id=controller_id, controller_epoch=ctx.epoch,
        broker_epoch=ctx.live_brokers[b].broker_epoch, topic_states=topic_states,
        live_brokers=live) for b in sorted(set(brokers)) if b in ctx.live_brokers}


def stop_replica_requests(ctx: ControllerContext,
                          replicas: Iterable[tuple[TopicPartition, int]], *, controller_id: int,
                          delete: bool) -> dict[int, StopReplicaRequest]:
    """StopReplica for (partition, broker) pairs on live brokers. With ``delete`` the leader
    epoch is -2 (Kafka's "deleting" sentinel, which skips the receiver's epoch check)."""
    per_broker: dict[int, dict[str, list[StopReplicaPartitionState]]] = {}
    for tp, r in replicas:
        if r not in ctx.live_brokers:
            continue
        l = ctx.leadership.get(tp)
        epoch = LEADER_DURING_DELETE if delete else (l.leader_epoch if l else -1)
        per_broker.setdefault(r, {}).setdefault(tp.topic, []).append(
            StopReplicaPartitionState(partition_index=tp.partition, leader_epoch=epoch,
                                      delete_partition=delete))
    return {b: StopReplicaRequest(
        controller_id=controller_id, controller_epoch=ctx.epoch,
        broker_epoch=ctx.live_brokers[b].broker_epoch,
        topic_states=tuple(StopReplicaTopicState(topic_name=t, partition_states=tuple(ps))
                           for t, ps in sorted(topics.items())))
        for b, topics in sorted(per_broker.items())}
