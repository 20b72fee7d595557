"""Partition reassignment (KIP-455, zookeeper-layout.md §6.11): the API, the legacy znode, and
the two phases.

Start (U): RS = TRS + ORS with AR/RR is written to ``/brokers/topics/<t>`` before anything
else, so a controller that takes over finds and resumes the move. Phase A (TRS not in the
ISR): leader epoch + 1 and LeaderAndIsr to RS, which makes the AR replicas start fetching;
the controller watches the partition-state znode, where the leader records the ISR growing.
Phase B (TRS within the ISR): one state write elects from TRS if needed and shrinks the ISR to
TRS (leader epoch + 1); LeaderAndIsr with RS = TRS; the RR replicas get
StopReplica(delete=false) then StopReplica(delete=true); RS = TRS is stored with empty AR/RR;
the partition leaves ``/admin/reassign_partitions`` if it came from there; UpdateMetadata.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from kafkalite import errors
from kafkalite.controller import events as ev
from kafkalite.controller.context import PartitionLeadership
from kafkalite.controller.election import remove_replicas_from_isr
from kafkalite.controller.reassignment import (ReplicaAssignment, completion_leadership,
                                               validate_target)
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.controller.service.core import MAX_STATE_WRITE_ATTEMPTS, ControllerCore
from kafkalite.model import TopicPartition
from kafkalite.zk.errors import BadVersionError, NoNodeError
from kafkalite.zk.znodes import (ReassignPartitionsZNode, TopicPartitionStateZNode)

__all__ = ["Reassignments"]

log = logging.getLogger("kafkalite.controller")

ReassignmentResults = dict[TopicPartition, tuple[type[errors.KafkaError] | None, str | None]]


class Reassignments(ControllerCore):
    async def alter_reassignments(self, changes: dict[TopicPartition, tuple[int, ...] | None]
                                  ) -> ReassignmentResults:
        """Start (target replicas) or cancel (None) reassignments; one result per partition."""
        return await self._call(self._alter_reassignments, changes)

    def list_reassignments(self, partitions: list[TopicPartition] | None = None
                           ) -> dict[TopicPartition, tuple[tuple[int, ...], tuple[int, ...],
                                                           tuple[int, ...]]]:
        """(replicas, adding, removing) of the ongoing reassignments among ``partitions``
        (all of them if None)."""
        ctx = self.ctx
        wanted = ctx.partitions_being_reassigned() if partitions is None else partitions
        out = {}
        for tp in wanted:
            if ctx.is_being_reassigned(tp):
                ra = ctx.full_assignment(tp)
                out[tp] = (ra.replicas, ra.adding, ra.removing)
        return out

    async def _alter_reassignments(self, changes: dict[TopicPartition, Sequence[int] | None],
                                   *, from_zk: bool = False) -> ReassignmentResults:
        ctx = self.ctx
        results: ReassignmentResults = {}
        todo: dict[TopicPartition, tuple[int, ...]] = {}
        for tp, target in changes.items():
            if not ctx.replicas(tp) or tp.topic in ctx.topics_to_delete:
                results[tp] = (errors.UnknownTopicOrPartition, "The partition does not exist.")
                continue
            current = ctx.full_assignment(tp)
            if target is None:
                if not current.is_being_reassigned:
                    results[tp] = (errors.NoReassignmentInProgress,
                                   f"No reassignment is in progress for partition {tp}.")
                else:
                    todo[tp] = current.origin_replicas   # cancel = move back
                continue
            problem = validate_target(tuple(target), current, ctx.live_ids)
            if problem is not None:
                results[tp] = problem
            else:
                todo[tp] = tuple(target)
        if not from_zk and set(todo) & ctx.zk_reassignments:
            # An API reassignment overrides one from the legacy znode (as in Kafka).
            await self._remove_from_zk_reassignment(set(todo) & ctx.zk_reassignments)
        for tp, target in todo.items():
            if await self._reassign(tp, target):
                results[tp] = (None, None)
            else:
                results[tp] = (errors.UnknownTopicOrPartition, "The partition does not exist.")
        return results

    async def _reassign(self, tp: TopicPartition, target: Sequence[int]) -> bool:
        """Kafka's onPartitionReassignment: store the move, then phase A or B. False if the
        move could not be stored (the topic vanished)."""
        ctx = self.ctx
        current = ctx.full_assignment(tp)
        new = current.reassign_to(target)
        if new != current:
            if not await self._write_topic_assignment(tp.topic, {tp.partition: new}):
                return False
            # Replicas a previous move was adding that this one no longer wants (a cancel,
            # or a new target) leave at once.
            unneeded = [r for r in current.replicas if r not in new.replicas]
            if unneeded:
                await self._remove_replicas(tp, unneeded)
        log.info("%s: reassignment to %s (replicas %s, adding %s, removing %s)", tp,
                 list(target), list(new.replicas), list(new.adding), list(new.removing))
        await self._refresh_leadership([tp])
        l = ctx.leadership.get(tp)
        if not new.is_being_reassigned or (l is not None and new.is_complete(l.isr)):
            await self._complete_reassignment(tp)
            return True
        # Phase A: everyone in RS learns the new replica set; AR replicas start fetching.
        def bump(tp: TopicPartition, cur: PartitionLeadership):
            return self._new_state(cur.leader, cur.leader_epoch + 1, cur.isr)

        await self._update_leadership([tp], bump)
        self._move_replicas([(tp, r) for r in new.adding if ctx.replica_state(tp, r)
                             is ReplicaState.NON_EXISTENT], ReplicaState.NEW)
        self._send_leader_and_isr([tp])
        self._send_update_metadata([tp])
        await self._watch_partition_state(tp)
        return True

    async def _resume_reassignment(self, tp: TopicPartition) -> None:
        """Restart a move found in ZooKeeper (failover) or involving a returning broker."""
        ra = self.ctx.full_assignment(tp)
        if ra.is_being_reassigned:
            await self._reassign(tp, ra.target_replicas)

    async def _maybe_complete_reassignment(self, tp: TopicPartition) -> None:
        ra = self.ctx.full_assignment(tp)
        l = self.ctx.leadership.get(tp)
        if ra.is_being_reassigned and l is not None and ra.is_complete(l.isr):
            await self._complete_reassignment(tp)

    async def _complete_reassignment(self, tp: TopicPartition) -> None:
        """Phase B. Waits (returns, still watching) if no target replica can lead yet."""
        ctx = self.ctx
        ra = ctx.full_assignment(tp)
        target = ra.target_replicas

        def finish(tp: TopicPartition, cur: PartitionLeadership):
            if ra.is_being_reassigned and not ra.is_complete(cur.isr):
                return None
            chosen = completion_leadership(target, cur.leader, cur.isr, ctx.live_ids)
            if chosen is None:
                return None
            return self._new_state(chosen[0], cur.leader_epoch + 1, chosen[1])

        if not await self._update_leadership([tp], finish):
            l = ctx.leadership.get(tp)
            log.info("%s: reassignment to %s waits (leader %s, isr %s, live %s)", tp,
                     list(target), l.leader if l else None, list(l.isr) if l else [],
                     sorted(ctx.live_ids))
            if ra.is_being_reassigned:
                await self._watch_partition_state(tp)
            return
        self._move_replicas([(tp, r) for r in ra.adding], ReplicaState.ONLINE)
        ctx.set_full_assignment(tp, ReplicaAssignment(target))
        self._send_leader_and_isr([tp])
        self._stop_replicas([(tp, r) for r in ra.removing])
        await self._write_topic_assignment(tp.topic)
        self._stop_state_watch(tp)
        if tp in ctx.zk_reassignments:
            await self._remove_from_zk_reassignment({tp}, target=target)
        self._send_update_metadata([tp])
        log.info("%s: reassignment completed, replicas %s", tp, list(target))
        await self._resume_deletions()

    def _stop_replicas(self, removed: list[tuple[TopicPartition, int]]) -> None:
        """Replicas leaving a partition: stop fetching, then delete their logs (Kafka does not
        wait for the answers here; a dead broker keeps a stale copy it never serves)."""
        self._move_replicas(removed, ReplicaState.OFFLINE)
        self._send_stop_replica(removed, delete=False)
        self._move_replicas(removed, ReplicaState.DELETION_STARTED)
        self._send_stop_replica(removed, delete=True)
        self._move_replicas(removed, ReplicaState.DELETION_SUCCESSFUL)
        self._move_replicas(removed, ReplicaState.NON_EXISTENT)

    async def _remove_replicas(self, tp: TopicPartition, removed: list[int]) -> None:
        """Take replicas out of the ISR (controller write, leader epoch + 1), stop them."""
        def shrink(tp: TopicPartition, cur: PartitionLeadership):
            leader, isr = remove_replicas_from_isr(cur.leader, cur.isr, removed)
            if (leader, isr) == (cur.leader, cur.isr):
                return None
            return self._new_state(leader, cur.leader_epoch + 1, isr)

        changed = await self._update_leadership([tp], shrink)
        self._stop_replicas([(tp, r) for r in removed])
        if changed:
            self._send_leader_and_isr(changed)
            self._send_update_metadata(changed)
            if self.ctx.leadership[tp].leader < 0:
                await self._online_partitions([tp])

    # -- ZooKeeper ---------------------------------------------------------------------

    async def _write_topic_assignment(self, topic: str,
                                      changes: dict[int, ReplicaAssignment] | None = None
                                      ) -> bool:
        """Store the context's assignment of ``topic`` (after applying ``changes``) with a
        CAS on the znode version; partitions an admin added meanwhile are taken in first."""
        ctx = self.ctx
        for _attempt in range(MAX_STATE_WRITE_ATTEMPTS):
            if topic not in ctx.assignments:
                return False
            for p, ra in (changes or {}).items():
                ctx.set_full_assignment(TopicPartition(topic, p), ra)
            assignment = ctx.topic_assignment(topic)
            try:
                ctx.topic_versions[topic] = await self.zk.set_topic_assignment(
                    topic, assignment, ctx.epoch_zk_version, assignment.zk_version)
                return True
            except NoNodeError:
                log.warning("topic %s vanished while storing its assignment", topic)
                return False
            except BadVersionError:
                fresh = await self.zk.get_topic_assignment(topic)
                if fresh is None:
                    return False
                ctx.topic_versions[topic] = fresh.zk_version
                await self._adopt_assignment(topic, fresh)
        log.warning("gave up storing the assignment of topic %s", topic)
        return False

    async def _watch_partition_state(self, tp: TopicPartition) -> None:
        if tp not in self._state_watches:
            self._state_watches[tp] = await self._watch_data(
                TopicPartitionStateZNode.path(tp.topic, tp.partition),
                lambda d, s: ev.PartitionStateChanged(tp, d, s.version if s is not None else -1))

    async def _on_reassigning_partition_state(self, event: ev.PartitionStateChanged) -> None:
        """The leader changed the ISR of a moving partition: maybe TRS is in sync now."""
        ctx = self.ctx
        tp = event.tp
        if event.data is None or not ctx.is_being_reassigned(tp):
            return
        try:
            st = TopicPartitionStateZNode.decode(event.data, event.version)
        except (ValueError, KeyError, TypeError) as e:
            log.error("unreadable partition state of %s: %s", tp, e)
            return
        cur = ctx.leadership.get(tp)
        if cur is None or event.version > cur.zk_version:
            ctx.leadership[tp] = PartitionLeadership.from_state(st)
        await self._maybe_complete_reassignment(tp)

    async def _on_reassign_znode(self, event: ev.ReassignZNodeChanged) -> None:
        """``/admin/reassign_partitions`` was created (legacy tools, §3.9)."""
        path = ReassignPartitionsZNode.path()
        if event.data is None or not self._trigger_is_new(path, event.czxid):
            return
        try:
            wanted = ReassignPartitionsZNode.decode(event.data)
        except (ValueError, KeyError, TypeError) as e:
            log.error("ignoring unreadable %s: %s", path, e)
            wanted = {}
        self.ctx.zk_reassignments |= set(wanted)
        results = await self._alter_reassignments(dict(wanted), from_zk=True)
        failed = {tp for tp, r in results.items() if r[0] is not None}
        if failed:
            log.warning("reassignment through ZooKeeper failed: %s",
                        {str(tp): results[tp][1] for tp in failed})
        await self._remove_from_zk_reassignment(failed)

    async def _remove_from_zk_reassignment(self, tps: Collection[TopicPartition], *,
                                           target: Sequence[int] | None = None) -> None:
        """Drop partitions from ``/admin/reassign_partitions`` (only where it still asks for
        ``target``, if given); the node is deleted once empty."""
        ctx = self.ctx
        ctx.zk_reassignments -= set(tps)
        try:
            current = await self.zk.get_partition_reassignment()
        except (ValueError, KeyError, TypeError):
            current = {}
        if current is None:
            return
        remaining = {tp: r for tp, r in current.items()
                     if not (tp in tps and (target is None or tuple(r) == tuple(target)))}
        if remaining != current or not remaining:
            await self.zk.set_partition_reassignment(remaining, ctx.epoch_zk_version)
