"""Log dir failures, as the controller sees them (KIP-112; Kafka's onBrokerLogDirFailure).

A broker whose log dir fails (a full disk) keeps running and posts
``/log_dir_event_notification/log_dir_event_<seq>`` naming itself. The controller does not
learn from it which replicas died: it sends that broker LeaderAndIsr for every partition it
hosts, and the broker answers KAFKA_STORAGE_ERROR for each one in the failed dir. Every
LeaderAndIsr answer is read that way (failover sends them to everyone, so a failure the
controller missed is found there too). Those replicas are then offline although their broker
lives (``ctx.replicas_on_offline_dirs``): where one led, a clean election picks another ISR
member; where one followed, it leaves the ISR. Offline replicas are never elected and are
reported as offline in UpdateMetadata, until the broker restarts with a new broker epoch.
"""

from __future__ import annotations

import logging

from kafkalite.controller import events as ev
from kafkalite.controller.context import PartitionLeadership
from kafkalite.controller.election import remove_replicas_from_isr
from kafkalite.controller.partition_states import PartitionState
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.controller.service.core import ControllerCore
from kafkalite.model import TopicPartition

__all__ = ["LogDirFailures"]

log = logging.getLogger("kafkalite.controller")
state_change_log = logging.getLogger("state.change.logger")


class LogDirFailures(ControllerCore):
    async def _on_log_dir_events(self, names: tuple[str, ...]) -> None:
        if not names:
            return
        ctx = self.ctx
        try:
            brokers = await self.zk.get_broker_ids_from_log_dir_events(names)
            live = [b for b in brokers if b in ctx.live_brokers]
            if live:
                log.info("Handling log directory failure for brokers %s",
                         ",".join(map(str, live)))
            for b in live:
                self._send_leader_and_isr(
                    [tp for tp in ctx.partitions_on_broker(b) if tp in ctx.leadership
                     and tp.topic not in ctx.topics_to_delete], recipients=[b])
        finally:
            await self.zk.delete_log_dir_event_notifications(names, ctx.epoch_zk_version)

    async def _on_leader_and_isr_response(self, event: ev.LeaderAndIsrResponseReceived) -> None:
        ctx = self.ctx
        info = ctx.live_brokers.get(event.broker_id)
        if info is None or info.broker_epoch != event.broker_epoch:
            return   # gone or restarted since: its log dirs are whatever it has now
        before = ctx.replicas_on_offline_dirs.get(event.broker_id, set())
        now = (before - set(event.online)) | set(event.offline)
        ctx.replicas_on_offline_dirs[event.broker_id] = now
        new = sorted(now - before, key=lambda tp: (tp.topic, tp.partition))
        if new:
            state_change_log.info("[Controller id=%d epoch=%d] Mark replicas %s on broker %d as "
                                  "offline", self.broker.broker_id, ctx.epoch,
                                  ",".join(map(str, new)), event.broker_id)
            await self._on_replicas_offline(event.broker_id, new)

    async def _on_replicas_offline(self, broker_id: int, tps: list[TopicPartition]) -> None:
        """Kafka's onReplicasBecomeOffline for one broker's replicas in a failed log dir."""
        ctx = self.ctx
        tps = [tp for tp in tps if tp in ctx.leadership and tp.topic not in ctx.topics_to_delete]
        led = [tp for tp in tps if ctx.leadership[tp].leader == broker_id]
        for tp in led:
            if ctx.state(tp) is PartitionState.ONLINE:
                ctx.move(tp, PartitionState.OFFLINE)
        changed = await self._elect_offline(led)

        def shrink(tp: TopicPartition, cur: PartitionLeadership):
            if broker_id not in cur.isr or cur.leader == broker_id:
                return None
            leader, isr = remove_replicas_from_isr(cur.leader, cur.isr, [broker_id])
            if isr == cur.isr:
                return None
            return self._new_state(leader, cur.leader_epoch + 1, isr)

        led_set = set(led)
        followed = [tp for tp in tps if tp not in led_set]
        elected = set(changed)
        changed += [tp for tp in await self._update_leadership(followed, shrink)
                    if tp not in elected]
        self._move_replicas([(tp, broker_id) for tp in tps], ReplicaState.OFFLINE)
        log.info("replicas of broker %d in a failed log dir: %d leaderships moved, %d ISRs "
                 "shrunk", broker_id, len([tp for tp in led if tp in changed]),
                 len([tp for tp in followed if tp in changed]))
        self._send_leader_and_isr(changed)
        self._send_update_metadata(tps)
