"""Leader elections on request: ElectLeaders (KIP-460), the legacy preferred-election znode and
auto leader rebalance.

Preferred election gives a partition back to its first assigned replica when that replica is
alive and in the ISR; unclean election picks any live replica for a partition without a live
leader (data loss possible). Both bump the leader epoch, write the state znode (retrying on
BADVERSION), then send LeaderAndIsr to the replicas and UpdateMetadata to every broker.
"""

from __future__ import annotations

import logging

from kafkalite import errors
from kafkalite.controller import events as ev
from kafkalite.controller.context import PartitionLeadership
from kafkalite.controller.election import offline_partition_leader, preferred_replica_leader
from kafkalite.controller.preferred import partitions_to_rebalance
from kafkalite.controller.service.core import ControllerCore
from kafkalite.model import TopicPartition
from kafkalite.zk.znodes import PreferredReplicaElectionZNode

__all__ = ["Elections", "PREFERRED", "UNCLEAN"]

log = logging.getLogger("kafkalite.controller")

PREFERRED = 0
UNCLEAN = 1

ElectionResults = dict[TopicPartition, tuple[type[errors.KafkaError] | None, str | None]]


class Elections(ControllerCore):
    async def elect_leaders(self, election_type: int, partitions: list[TopicPartition] | None
                            ) -> ElectionResults:
        """Run a preferred (0) or unclean (1) election.

        ``partitions`` None means every partition; then partitions that need no election are
        left out of the result instead of being reported ELECTION_NOT_NEEDED.
        """
        return await self._call(self._elect_leaders, election_type, partitions)

    def _election_needed(self, election_type: int, tp: TopicPartition) -> bool:
        leader = self.ctx.leadership[tp].leader
        if election_type == PREFERRED:
            return leader != self.ctx.replicas(tp)[0]
        return leader not in self.ctx.live_ids

    async def _elect_leaders(self, election_type: int, partitions: list[TopicPartition] | None
                             ) -> ElectionResults:
        if election_type not in (PREFERRED, UNCLEAN):
            raise errors.InvalidRequest(f"Unknown election type {election_type}")
        ctx = self.ctx
        explicit = partitions is not None
        wanted = (list(dict.fromkeys(partitions)) if explicit else
                  [tp for tp in ctx.partitions() if tp.topic not in ctx.topics_to_delete])
        failure = (errors.PreferredLeaderNotAvailable if election_type == PREFERRED
                   else errors.EligibleLeadersNotAvailable)
        strategy = ("PreferredReplicaPartitionLeaderElectionStrategy"
                    if election_type == PREFERRED else
                    "OfflinePartitionLeaderElectionStrategy(allowUnclean=true)")
        results: ElectionResults = {}
        electable = []
        for tp in wanted:
            if not ctx.replicas(tp):
                results[tp] = (errors.UnknownTopicOrPartition,
                               f"The partition {tp} does not exist.")
            elif tp.topic in ctx.topics_to_delete:
                results[tp] = (errors.UnknownTopicOrPartition,
                               f"The topic {tp.topic} is being deleted.")
            elif tp not in ctx.leadership or self._election_needed(election_type, tp):
                electable.append(tp)
            elif explicit:
                results[tp] = (errors.ElectionNotNeeded,
                               "Leader election not needed for topic partition.")

        # Leaders change ISRs without us; a stale ISR could hide an eligible replica.
        await self._refresh_leadership([tp for tp in electable if tp in ctx.leadership])

        def preferred(tp: TopicPartition, cur: PartitionLeadership):
            replicas = ctx.replicas(tp)
            if cur.leader == replicas[0]:
                return None
            chosen = preferred_replica_leader(replicas, cur.isr, ctx.live_ids)
            return None if chosen is None else \
                self._new_state(chosen[0], cur.leader_epoch + 1, chosen[1])

        def unclean(tp: TopicPartition, cur: PartitionLeadership):
            if cur.leader in ctx.live_ids:
                return None
            chosen = offline_partition_leader(ctx.replicas(tp), cur.isr, ctx.live_ids,
                                              unclean=True)
            if chosen is None:
                return None
            if chosen[2]:
                self.broker.metrics.unclean_elections += 1
                log.warning("%s: UNCLEAN leader election to %d requested: data loss possible",
                            tp, chosen[0])
            return self._new_state(chosen[0], cur.leader_epoch + 1, chosen[1])

        done = await self._update_leadership(electable,
                                             preferred if election_type == PREFERRED else unclean)
        self._send_leader_and_isr(done)
        self._send_update_metadata(done)
        for tp in electable:
            if tp not in ctx.leadership or self._election_needed(election_type, tp):
                message = f"Failed to elect leader for partition {tp} under strategy {strategy}"
                results[tp] = (failure, message)
            else:
                results[tp] = (None, None)
        if done:
            log.info("%s election moved leadership of %s",
                     "preferred" if election_type == PREFERRED else "unclean", done)
        return results

    async def _on_preferred_election_znode(self, event: ev.PreferredElectionZNodeChanged) -> None:
        """``/admin/preferred_replica_election`` was created (§3.10): elect, then delete it."""
        path = PreferredReplicaElectionZNode.path()
        if event.data is None or not self._trigger_is_new(path, event.czxid):
            return
        try:
            tps = PreferredReplicaElectionZNode.decode(event.data)
        except (ValueError, KeyError, TypeError) as e:
            log.error("ignoring unreadable %s: %s", path, e)
            tps = []
        known = [tp for tp in tps if self.ctx.replicas(tp)]
        if known:
            results = await self._elect_leaders(PREFERRED, known)
            failed = {tp: r for tp, r in results.items()
                      if r[0] is not None and r[0] is not errors.ElectionNotNeeded}
            if failed:
                log.warning("preferred replica election failed for %s",
                            {str(tp): r[1] for tp, r in failed.items()})
        await self.zk.delete_preferred_replica_election(self.ctx.epoch_zk_version)

    async def _check_leader_imbalance(self) -> None:
        ctx = self.ctx
        assignments = {tp: ctx.replicas(tp) for tp in ctx.partitions()
                       if tp.topic not in ctx.topics_to_delete}
        leadership = {tp: (l.leader, l.isr) for tp, l in ctx.leadership.items()
                      if tp in assignments}
        tps = partitions_to_rebalance(
            assignments, leadership, ctx.live_ids, set(ctx.partitions_being_reassigned()),
            self.broker.config["leader.imbalance.per.broker.percentage"])
        if tps:
            log.info("leader imbalance: preferred replica election for %s", tps)
            await self._elect_leaders(PREFERRED, tps)
