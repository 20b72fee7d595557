"""Broker startup, failure and controlled shutdown, as the controller sees them.

Broker changes (zookeeper-layout.md §6.6) come from the child watch on ``/brokers/ids``: the
ZooKeeper set (id -> czxid, the broker epoch) is compared with the context's. A bounced broker
(same id, new czxid) is handled as dead, then new.

Controlled shutdown (§6.4, §6.9) is the broker announcing its stop: the controller moves every
leadership it can to another in-sync replica (leader_epoch + 1, the broker leaves the ISR),
takes it out of the ISRs of partitions it follows and stops its fetchers there with
StopReplica(delete=false). It answers with the partitions the broker still leads, which the
broker retries a few times before closing its session anyway.
"""

from __future__ import annotations

import logging

from kafkalite import errors
from kafkalite.controller.context import PartitionLeadership
from kafkalite.controller.election import controlled_shutdown_leader, remove_replicas_from_isr
from kafkalite.controller.partition_states import PartitionState
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.controller.service.core import ControllerCore
from kafkalite.model import TopicPartition

__all__ = ["BrokerChanges"]

log = logging.getLogger("kafkalite.controller")


class BrokerChanges(ControllerCore):
    async def _on_brokers_changed(self) -> None:
        ctx = self.ctx
        current = {b.broker_id: b for b in await self.zk.get_all_brokers()}
        old = ctx.live_brokers
        bounced = {i for i in current
                   if i in old and current[i].broker_epoch != old[i].broker_epoch}
        new = (set(current) - set(old)) | bounced
        dead = (set(old) - set(current)) | bounced
        if not new and not dead:
            if current != old:
                ctx.live_brokers = current   # endpoints or rack changed
                self._send_update_metadata([])
            return
        log.info("brokers changed: new %s, dead %s, bounced %s", sorted(new - bounced),
                 sorted(dead - bounced), sorted(bounced))
        ctx.live_brokers = {i: b for i, b in current.items() if i not in new}
        self.channel.sync(ctx.live_brokers)
        ctx.shutting_down -= dead
        for b in dead | new:   # a restarted broker's failed log dirs are back (or not: it says)
            ctx.replicas_on_offline_dirs.pop(b, None)
        if dead:
            await self._on_brokers_dead(dead)
        ctx.live_brokers = current
        self.channel.sync(current)
        if new:
            await self._on_brokers_new(new)

    async def _on_brokers_dead(self, dead: set[int]) -> None:
        """Elect new leaders where they led, take them out of ISRs where they followed."""
        ctx = self.ctx
        led = [tp for tp, l in ctx.leadership.items()
               if l.leader in dead and tp.topic not in ctx.topics_to_delete]
        for tp in led:
            if ctx.state(tp) is PartitionState.ONLINE:
                ctx.move(tp, PartitionState.OFFLINE)
        changed = await self._elect_offline(led)

        def shrink(tp: TopicPartition, cur: PartitionLeadership):
            gone = [r for r in cur.isr if r in dead]
            leader, isr = remove_replicas_from_isr(cur.leader, cur.isr, gone)
            if (leader, isr) == (cur.leader, cur.isr):
                return None
            return self._new_state(leader, cur.leader_epoch + 1, isr)

        followed = [tp for tp, l in ctx.leadership.items()
                    if tp.topic not in ctx.topics_to_delete and l.leader not in dead
                    and set(l.isr) & dead]
        elected = set(changed)
        changed += [tp for tp in await self._update_leadership(followed, shrink)
                    if tp not in elected]
        for tp in ctx.partitions():
            on_dead = [(tp, r) for r in ctx.replicas(tp) if r in dead]
            if not on_dead:
                continue
            if tp.topic in ctx.topics_to_delete:
                # Deletion waits for these brokers to return (§6.8).
                self._mark_deletion_ineligible(on_dead)
            else:
                self._move_replicas(on_dead, ReplicaState.OFFLINE)
        self._send_leader_and_isr(changed)
        self._send_update_metadata(changed)

    async def _on_brokers_new(self, new: set[int]) -> None:
        ctx = self.ctx
        # Everyone learns the new broker list first; the new brokers get every partition.
        self._send_update_metadata([], brokers=set(ctx.live_brokers) - new)
        self._send_update_metadata(ctx.partitions(), brokers=new)
        on_new = [(tp, r) for tp in ctx.partitions() for r in ctx.replicas(tp) if r in new
                  and tp in ctx.leadership]
        self._move_replicas(on_new, ReplicaState.ONLINE)
        self._send_leader_and_isr(
            [tp for tp in ctx.partitions()
             if tp.topic not in ctx.topics_to_delete and set(ctx.replicas(tp)) & new],
            recipients=new)
        await self._online_partitions(
            [tp for tp in ctx.partitions()
             if ctx.state(tp) in (PartitionState.NEW, PartitionState.OFFLINE)])
        for tp in ctx.partitions_being_reassigned():
            if set(ctx.replicas(tp)) & new:
                await self._resume_reassignment(tp)
        await self._resume_deletions()

    # -- controlled shutdown ---------------------------------------------------------

    async def controlled_shutdown(self, broker_id: int, broker_epoch: int
                                  ) -> set[TopicPartition]:
        """Move leadership off a stopping broker; returns the partitions it still leads.

        Raises:
            BrokerNotAvailable: the broker is not registered (not live).
            StaleBrokerEpoch: the request comes from an earlier incarnation of the broker.
        """
        return await self._call(self._controlled_shutdown, broker_id, broker_epoch)

    async def _controlled_shutdown(self, broker_id: int, broker_epoch: int
                                   ) -> set[TopicPartition]:
        ctx = self.ctx
        info = ctx.live_brokers.get(broker_id)
        if info is None:
            raise errors.BrokerNotAvailable(f"Broker id {broker_id} does not exist.")
        if broker_epoch != -1 and broker_epoch < info.broker_epoch:
            raise errors.StaleBrokerEpoch(
                f"Received controlled shutdown request for broker {broker_id} with epoch "
                f"{broker_epoch}, which is older than its current epoch {info.broker_epoch}.")
        ctx.shutting_down.add(broker_id)
        log.info("broker %d is shutting down", broker_id)
        acting = [tp for tp in ctx.partitions_on_broker(broker_id)
                  if len(ctx.replicas(tp)) > 1 and tp in ctx.leadership
                  and tp.topic not in ctx.topics_to_delete]
        # Leaders change ISRs without us; a stale ISR could hide an eligible replica.
        await self._refresh_leadership(acting)
        led = [tp for tp in acting if ctx.leadership[tp].leader == broker_id]
        followed = [tp for tp in acting if ctx.leadership[tp].leader != broker_id]

        def move_leader(tp: TopicPartition, cur: PartitionLeadership):
            if cur.leader != broker_id:
                return None
            chosen = controlled_shutdown_leader(ctx.replicas(tp), cur.isr, ctx.live_ids,
                                                ctx.shutting_down)
            if chosen is None:
                return None
            return self._new_state(chosen[0], cur.leader_epoch + 1, chosen[1])

        moved = await self._update_leadership(led, move_leader)
        # The old leader hears it is a follower now (it is still alive until it stops).
        self._send_leader_and_isr(moved)
        self._send_update_metadata(moved)

        def leave_isr(tp: TopicPartition, cur: PartitionLeadership):
            if cur.leader == broker_id or broker_id not in cur.isr:
                return None
            leader, isr = remove_replicas_from_isr(cur.leader, cur.isr, [broker_id])
            if isr == cur.isr:
                return None
            return self._new_state(leader, cur.leader_epoch + 1, isr)

        self._move_replicas([(tp, broker_id) for tp in followed], ReplicaState.OFFLINE)
        self._send_stop_replica([(tp, broker_id) for tp in followed], delete=False)
        shrunk = await self._update_leadership(followed, leave_isr)
        self._send_leader_and_isr(shrunk, exclude=[broker_id])
        self._send_update_metadata(shrunk)
        remaining = {tp for tp in ctx.partitions_on_broker(broker_id)
                     if tp in ctx.leadership and ctx.leadership[tp].leader == broker_id
                     and len(ctx.replicas(tp)) > 1 and tp.topic not in ctx.topics_to_delete}
        log.info("controlled shutdown of broker %d: %d leaderships moved, %d ISRs shrunk, "
                 "%d partitions still led", broker_id, len(moved), len(shrunk), len(remaining))
        return remaining
