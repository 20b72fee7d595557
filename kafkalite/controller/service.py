"""The active controller's trio shell (Kafka's KafkaController + ControllerEventManager).

Only the broker that won ``/controller`` runs this. It loads the cluster from ZooKeeper, then
processes one event at a time from a single queue (watch firings are turned into events), so
the controller's decisions never interleave. Every ZooKeeper write it makes is fenced on the
``/controller_epoch`` zkVersion (``kafka_zk`` adds the check op); a failed fence means another
controller exists and this one resigns by raising :class:`ControllerMovedError` out of
:meth:`ControllerService.run`.

It tells brokers what to do with LeaderAndIsr / UpdateMetadata / StopReplica, sent over the
Kafka protocol to remote brokers and handed straight to the dispatcher for itself.

Failover order (zookeeper-layout.md §6.3): watches, context, UpdateMetadata to everyone,
then partitions New/Offline -> Online (elections + LeaderAndIsr), then pending deletions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import trio

from kafkalite.controller.context import ControllerContext, PartitionLeadership
from kafkalite.controller.election import new_partition_leader, offline_partition_leader
from kafkalite.controller.partition_states import PartitionState
from kafkalite.model import BrokerInfo, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.leader_and_isr import (
    LeaderAndIsrLiveLeader, LeaderAndIsrPartitionState, LeaderAndIsrRequest,
    LeaderAndIsrTopicState)
from kafkalite.protocol.messages.stop_replica import (
    StopReplicaPartitionState, StopReplicaRequest, StopReplicaTopicState)
from kafkalite.protocol.messages.update_metadata import (
    UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
    UpdateMetadataRequest, UpdateMetadataTopicState)
from kafkalite.zk.kafka_zk import ControllerMovedError, KafkaZk
from kafkalite.zk.znodes import LeaderIsrAndControllerEpoch

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["ControllerService", "ControllerMovedError"]

log = logging.getLogger(__name__)

LEADER_AND_ISR_VERSION = 4
UPDATE_METADATA_VERSION = 6
STOP_REPLICA_VERSION = 3
LEADER_DURING_DELETE = -2


@attrs.frozen
class BrokersChanged:
    ids: tuple[str, ...]


@attrs.frozen
class TopicsChanged:
    topics: tuple[str, ...]


@attrs.frozen
class DeletionsChanged:
    topics: tuple[str, ...]


class ControllerService:
    def __init__(self, broker: "Broker", zk: KafkaZk, *, epoch: int, epoch_zk_version: int):
        self.broker = broker
        self.zk = zk
        self.ctx = ControllerContext(epoch=epoch, epoch_zk_version=epoch_zk_version)
        self._event_send, self._events = trio.open_memory_channel(1000)
        self._correlation = 0

    # -- plumbing --------------------------------------------------------------------

    async def _forward(self, channel, make_event) -> None:
        async for value in channel:
            await self._event_send.send(make_event(value))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        session = self.zk.session
        async with trio.open_nursery() as nursery:
            brokers = await session.watch_children("/brokers/ids")
            topics = await session.watch_children("/brokers/topics")
            deletions = await session.watch_children("/admin/delete_topics")
            await self._failover()
            nursery.start_soon(self._forward, brokers, lambda v: BrokersChanged(tuple(v)))
            nursery.start_soon(self._forward, topics, lambda v: TopicsChanged(tuple(v)))
            nursery.start_soon(self._forward, deletions, lambda v: DeletionsChanged(tuple(v)))
            task_status.started()
            async for event in self._events:
                await self._process(event)

    async def _process(self, event) -> None:
        if isinstance(event, BrokersChanged):
            await self._on_brokers_changed()
        elif isinstance(event, TopicsChanged):
            await self._on_topics_changed(set(event.topics))
        elif isinstance(event, DeletionsChanged):
            await self._on_deletions(set(event.topics))

    # -- failover --------------------------------------------------------------------

    async def _failover(self) -> None:
        ctx = self.ctx
        ctx.live_brokers = {b.broker_id: b for b in await self.zk.get_all_brokers()}
        for topic in await self.zk.get_all_topics():
            await self._load_topic(topic)
        ctx.topics_to_delete = set(await self.zk.get_topics_marked_for_deletion())
        log.info("controller epoch %d: live brokers %s, %d topics", ctx.epoch,
                 sorted(ctx.live_brokers), len(ctx.assignments))
        await self._send_update_metadata(ctx.live_ids, ctx.partitions())
        await self._online_partitions(ctx.partitions(), send_all=True)
        if ctx.topics_to_delete:
            await self._on_deletions(set(ctx.topics_to_delete))

    async def _load_topic(self, topic: str) -> None:
        assignment = await self.zk.get_topic_assignment(topic)
        if assignment is None:
            return
        ctx = self.ctx
        ctx.assignments[topic] = {p: tuple(r) for p, r in assignment.partitions.items()}
        ctx.topic_ids[topic] = assignment.topic_id
        states = await self.zk.get_partition_states(topic)
        for p in assignment.partitions:
            tp = TopicPartition(topic, p)
            st = states.get(p)
            if st is None:
                ctx.states.setdefault(tp, PartitionState.NEW)
                continue
            ctx.leadership[tp] = PartitionLeadership(st.leader, st.leader_epoch, tuple(st.isr),
                                                     st.controller_epoch, st.zk_version)
            ctx.states[tp] = (PartitionState.ONLINE if st.leader in ctx.live_ids
                              else PartitionState.OFFLINE)

    # -- partition state machine -----------------------------------------------------

    async def _online_partitions(self, tps: Iterable[TopicPartition], *, send_all: bool = False
                                 ) -> None:
        """Move New/Offline partitions to Online (electing), and tell replicas."""
        ctx = self.ctx
        changed: list[TopicPartition] = []
        new_by_topic: dict[str, dict[int, LeaderIsrAndControllerEpoch]] = {}
        updates: dict[tuple[str, int], tuple[LeaderIsrAndControllerEpoch, int]] = {}
        for tp in tps:
            if tp.topic in ctx.topics_to_delete:
                continue
            state = ctx.state(tp)
            replicas = ctx.replicas(tp)
            if state is PartitionState.NEW:
                chosen = new_partition_leader(replicas, ctx.live_ids)
                if chosen is None:
                    log.warning("%s: no live replica among %s; stays new", tp, list(replicas))
                    continue
                leader, isr = chosen
                new_by_topic.setdefault(tp.topic, {})[tp.partition] = LeaderIsrAndControllerEpoch(
                    leader=leader, leader_epoch=0, isr=isr, controller_epoch=ctx.epoch,
                    zk_version=0)
            elif state is PartitionState.OFFLINE or (
                    tp in ctx.leadership and ctx.leadership[tp].leader not in ctx.live_ids):
                cur = ctx.leadership[tp]
                unclean = await self._unclean_enabled(tp.topic)
                chosen = offline_partition_leader(replicas, cur.isr, ctx.live_ids, unclean=unclean)
                if chosen is None:
                    if cur.leader != -1:
                        # Keep the ISR (Kafka leaves the last ISR member in place) but drop
                        # the dead leader so clients see LEADER_NOT_AVAILABLE.
                        updates[(tp.topic, tp.partition)] = (LeaderIsrAndControllerEpoch(
                            leader=-1, leader_epoch=cur.leader_epoch + 1, isr=cur.isr,
                            controller_epoch=ctx.epoch, zk_version=cur.zk_version),
                            cur.zk_version)
                    if ctx.state(tp) is not PartitionState.OFFLINE:
                        ctx.move(tp, PartitionState.OFFLINE)
                    log.warning("%s: no eligible leader (isr %s, live %s)", tp, list(cur.isr),
                                sorted(ctx.live_ids))
                    continue
                leader, isr, was_unclean = chosen
                if was_unclean:
                    log.warning("%s: UNCLEAN leader election to %d: data loss possible", tp,
                                leader)
                updates[(tp.topic, tp.partition)] = (LeaderIsrAndControllerEpoch(
                    leader=leader, leader_epoch=cur.leader_epoch + 1, isr=isr,
                    controller_epoch=ctx.epoch, zk_version=cur.zk_version), cur.zk_version)
            elif send_all and tp in ctx.leadership:
                changed.append(tp)
        for topic, states in new_by_topic.items():
            await self.zk.create_partition_states(topic, states, ctx.epoch_zk_version)
            for p, st in states.items():
                tp = TopicPartition(topic, p)
                ctx.leadership[tp] = PartitionLeadership(st.leader, st.leader_epoch, tuple(st.isr),
                                                         st.controller_epoch, 0)
                ctx.move(tp, PartitionState.ONLINE)
                changed.append(tp)
        if updates:
            await self._write_states(updates, changed)
        if changed:
            await self._send_leader_and_isr(changed, is_new={tp for tp in changed
                                                             if tp.topic in new_by_topic})
            await self._send_update_metadata(ctx.live_ids, changed)

    async def _write_states(self, updates, changed: list[TopicPartition]) -> None:
        ctx = self.ctx
        results = await self.zk.update_partition_states(updates, ctx.epoch_zk_version)
        for (topic, p), result in results.items():
            tp = TopicPartition(topic, p)
            if isinstance(result, BaseException):
                if isinstance(result, ControllerMovedError):
                    raise result
                log.warning("%s: state write failed (%s); re-reading", tp, result)
                await self._load_topic(topic)
                continue
            st = updates[(topic, p)][0]
            ctx.leadership[tp] = PartitionLeadership(st.leader, st.leader_epoch, tuple(st.isr),
                                                     st.controller_epoch, result)
            target = PartitionState.ONLINE if st.leader >= 0 else PartitionState.OFFLINE
            ctx.move(tp, target)
            changed.append(tp)

    async def _unclean_enabled(self, topic: str) -> bool:
        cfg = await self.zk.get_topic_config(topic)
        value = cfg.get("unclean.leader.election.enable")
        if value is None:
            return bool(self.broker.config["unclean.leader.election.enable"])
        return value.strip().lower() == "true"

    # -- events ----------------------------------------------------------------------

    async def _on_brokers_changed(self) -> None:
        ctx = self.ctx
        current = {b.broker_id: b for b in await self.zk.get_all_brokers()}
        old = ctx.live_brokers
        bounced = {i for i in current if i in old and current[i].broker_epoch != old[i].broker_epoch}
        new = (set(current) - set(old)) | bounced
        dead = (set(old) - set(current)) | bounced
        if not new and not dead:
            ctx.live_brokers = current
            return
        log.info("brokers changed: new %s, dead %s, bounced %s", sorted(new - bounced),
                 sorted(dead - bounced), sorted(bounced))
        ctx.live_brokers = {i: b for i, b in current.items() if i not in bounced}
        ctx.shutting_down -= dead
        if dead:
            await self._on_brokers_dead(dead)
        ctx.live_brokers = current
        if new:
            await self._send_update_metadata(ctx.live_ids, ctx.partitions())
            on_new = [tp for tp in ctx.partitions() if set(ctx.replicas(tp)) & new]
            await self._send_leader_and_isr(
                [tp for tp in on_new if ctx.state(tp) is PartitionState.ONLINE],
                only_brokers=new)
            await self._online_partitions(
                [tp for tp in ctx.partitions()
                 if ctx.state(tp) in (PartitionState.NEW, PartitionState.OFFLINE)])

    async def _on_brokers_dead(self, dead: set[int]) -> None:
        ctx = self.ctx
        led = [tp for tp, l in ctx.leadership.items() if l.leader in dead]
        for tp in led:
            if ctx.state(tp) is PartitionState.ONLINE:
                ctx.move(tp, PartitionState.OFFLINE)
        await self._online_partitions(led)
        # Followers that died leave the ISR (an ISR of one is left as it is).
        updates = {}
        for tp, l in ctx.leadership.items():
            if l.leader in dead or l.leader < 0:
                continue
            shrunk = tuple(r for r in l.isr if r not in dead)
            if shrunk != l.isr and shrunk:
                updates[(tp.topic, tp.partition)] = (LeaderIsrAndControllerEpoch(
                    leader=l.leader, leader_epoch=l.leader_epoch + 1, isr=shrunk,
                    controller_epoch=ctx.epoch, zk_version=l.zk_version), l.zk_version)
        if updates:
            changed: list[TopicPartition] = []
            await self._write_states(updates, changed)
            await self._send_leader_and_isr(changed)
            await self._send_update_metadata(ctx.live_ids, changed)
        else:
            await self._send_update_metadata(ctx.live_ids, [])

    async def _on_topics_changed(self, topics: set[str]) -> None:
        ctx = self.ctx
        for topic in sorted(topics - set(ctx.assignments)):
            await self._load_topic(topic)
            log.info("new topic %s with %d partitions", topic, len(ctx.assignments.get(topic, {})))
            await self._online_partitions(ctx.partitions(topic))

    async def _on_deletions(self, topics: set[str]) -> None:
        ctx = self.ctx
        for topic in sorted(topics):
            if not self.broker.config["delete.topic.enable"]:
                await self.zk.delete_topic_deletion_markers([topic], ctx.epoch_zk_version)
                continue
            if topic not in ctx.assignments:
                await self.zk.delete_topic_deletion_markers([topic], ctx.epoch_zk_version)
                continue
            ctx.topics_to_delete.add(topic)
            tps = ctx.partitions(topic)
            await self._send_update_metadata(ctx.live_ids, tps, deleting=True)
            replicas = {r for tp in tps for r in ctx.replicas(tp)}
            if not replicas <= ctx.live_ids:
                log.info("deletion of %s waits for replicas %s", topic,
                         sorted(replicas - ctx.live_ids))
                continue
            await self._send_stop_replica(tps, delete=True)
            await self.zk.delete_topic_znodes(topic, ctx.epoch_zk_version)
            ctx.remove_topic(topic)
            log.info("deleted topic %s", topic)

    # -- requests to brokers ---------------------------------------------------------

    async def _send(self, broker_id: int, api_key: ApiKey, version: int, request) -> object:
        self._correlation += 1
        header = RequestHeader(int(api_key), version, self._correlation,
                               f"controller-{self.broker.broker_id}")
        return await self.broker.send_to_broker(broker_id, header, request)

    async def _send_to_all(self, brokers: Iterable[int], make) -> None:
        async with trio.open_nursery() as nursery:
            for b in sorted(set(brokers)):
                req = make(b)
                if req is not None:
                    nursery.start_soon(self._send_quietly, b, *req)

    async def _send_quietly(self, broker_id: int, api_key, version, request) -> None:
        try:
            await self._send(broker_id, api_key, version, request)
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as e:
            # The broker died; the broker-change event that follows handles it.
            log.warning("request %s to broker %d failed: %s", api_key.name, broker_id, e)

    def _leader_state(self, tp: TopicPartition, is_new: bool) -> LeaderAndIsrPartitionState:
        l = self.ctx.leadership[tp]
        return LeaderAndIsrPartitionState(
            topic_name=tp.topic, partition_index=tp.partition, controller_epoch=l.controller_epoch,
            leader=l.leader, leader_epoch=l.leader_epoch, isr=list(l.isr),
            partition_epoch=l.zk_version, replicas=list(self.ctx.replicas(tp)),
            adding_replicas=[], removing_replicas=[], is_new=is_new)

    async def _send_leader_and_isr(self, tps: Iterable[TopicPartition], *,
                                   is_new: set[TopicPartition] = frozenset(),
                                   only_brokers: set[int] | None = None) -> None:
        ctx = self.ctx
        per_broker: dict[int, dict[str, list[LeaderAndIsrPartitionState]]] = {}
        for tp in tps:
            if tp not in ctx.leadership:
                continue
            for r in ctx.replicas(tp):
                if r in ctx.live_brokers and (only_brokers is None or r in only_brokers):
                    per_broker.setdefault(r, {}).setdefault(tp.topic, []).append(
                        self._leader_state(tp, tp in is_new))
        leaders = {ctx.leadership[tp].leader for tp in tps if tp in ctx.leadership}

        def make(b: int):
            topics = per_broker.get(b)
            if not topics:
                return None
            live_leaders = []
            for lid in sorted(leaders):
                info = ctx.live_brokers.get(lid)
                ep = info.endpoint(self.broker.inter_broker_listener) if info else None
                if ep:
                    live_leaders.append(LeaderAndIsrLiveLeader(broker_id=lid, host_name=ep.host,
                                                               port=ep.port))
            return ApiKey.LEADER_AND_ISR, LEADER_AND_ISR_VERSION, LeaderAndIsrRequest(
                controller_id=self.broker.broker_id, controller_epoch=ctx.epoch,
                broker_epoch=ctx.live_brokers[b].broker_epoch,
                topic_states=[LeaderAndIsrTopicState(topic_name=t, partition_states=ps)
                              for t, ps in sorted(topics.items())],
                live_leaders=live_leaders)

        await self._send_to_all(per_broker, make)

    async def _send_update_metadata(self, brokers: Iterable[int], tps: Iterable[TopicPartition],
                                    *, deleting: bool = False) -> None:
        ctx = self.ctx
        by_topic: dict[str, list[UpdateMetadataPartitionState]] = {}
        for tp in tps:
            l = ctx.leadership.get(tp)
            if l is None:
                continue
            replicas = ctx.replicas(tp)
            by_topic.setdefault(tp.topic, []).append(UpdateMetadataPartitionState(
                topic_name=tp.topic, partition_index=tp.partition,
                controller_epoch=l.controller_epoch,
                leader=LEADER_DURING_DELETE if deleting else l.leader,
                leader_epoch=l.leader_epoch, isr=list(l.isr), zk_version=l.zk_version,
                replicas=list(replicas),
                offline_replicas=[r for r in replicas if r not in ctx.live_brokers]))
        live = [self._broker_entry(b) for b in sorted(ctx.live_brokers.values(),
                                                      key=lambda b: b.broker_id)]
        topic_states = [UpdateMetadataTopicState(topic_name=t, partition_states=ps)
                        for t, ps in sorted(by_topic.items())]

        def make(b: int):
            return ApiKey.UPDATE_METADATA, UPDATE_METADATA_VERSION, UpdateMetadataRequest(
                controller_id=self.broker.broker_id, controller_epoch=ctx.epoch,
                broker_epoch=ctx.live_brokers[b].broker_epoch, topic_states=topic_states,
                live_brokers=live)

        await self._send_to_all([b for b in brokers if b in ctx.live_brokers], make)

    @staticmethod
    def _broker_entry(b: BrokerInfo) -> UpdateMetadataBroker:
        return UpdateMetadataBroker(
            id=b.broker_id, rack=b.rack,
            endpoints=[UpdateMetadataEndpoint(port=e.port, host=e.host, listener=e.listener,
                                              security_protocol=0) for e in b.endpoints])

    async def _send_stop_replica(self, tps: Iterable[TopicPartition], *, delete: bool) -> None:
        ctx = self.ctx
        per_broker: dict[int, dict[str, list[StopReplicaPartitionState]]] = {}
        for tp in tps:
            l = ctx.leadership.get(tp)
            for r in ctx.replicas(tp):
                per_broker.setdefault(r, {}).setdefault(tp.topic, []).append(
                    StopReplicaPartitionState(partition_index=tp.partition,
                                              leader_epoch=LEADER_DURING_DELETE if delete
                                              else (l.leader_epoch if l else -1),
                                              delete_partition=delete))

        def make(b: int):
            if b not in ctx.live_brokers:
                return None
            return ApiKey.STOP_REPLICA, STOP_REPLICA_VERSION, StopReplicaRequest(
                controller_id=self.broker.broker_id, controller_epoch=ctx.epoch,
                broker_epoch=ctx.live_brokers[b].broker_epoch,
                topic_states=[StopReplicaTopicState(topic_name=t, partition_states=ps)
                              for t, ps in sorted(per_broker[b].items())])

        await self._send_to_all(per_broker, make)
