"""Topic deletion (Kafka's TopicDeletionManager, zookeeper-layout.md §6.8).

A topic marked in ``/admin/delete_topics`` is queued. Deleting it: UpdateMetadata with leader
-2 so brokers stop serving it; its partitions go Offline -> NonExistent; every replica goes
Offline (StopReplica delete=false) -> DeletionStarted (StopReplica delete=true). Each broker's
answer moves its replicas to DeletionSuccessful, or DeletionIneligible on error. A replica on a
dead broker is ineligible until the broker returns, so the topic waits (its logs must go from
every replica, or a returning broker would serve a stale copy). Once every replica succeeded,
the topic's znodes go (``/brokers/topics/<t>``, its config, the marker) and the name is free to
be created again. Topics being reassigned wait for the reassignment to finish.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from kafkalite.controller import events as ev
from kafkalite.controller.partition_states import PartitionState
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.controller.service.core import ControllerCore
from kafkalite.model import TopicPartition

__all__ = ["TopicDeletion", "DELETION_RETRY_S"]

log = logging.getLogger("kafkalite.controller")

DELETION_RETRY_S = 5.0   # after a live broker failed to delete, ask again this much later

_RETRYABLE = (ReplicaState.NEW, ReplicaState.ONLINE, ReplicaState.OFFLINE,
              ReplicaState.DELETION_INELIGIBLE)


class TopicDeletion(ControllerCore):
    async def _on_deletions(self, markers: set[str]) -> None:
        ctx = self.ctx
        for topic in sorted(markers - ctx.topics_to_delete):
            if topic not in ctx.assignments or not self.broker.config["delete.topic.enable"]:
                log.info("dropping deletion marker of topic %s (%s)", topic,
                         "unknown topic" if topic not in ctx.assignments
                         else "delete.topic.enable=false")
                await self.zk.remove_deletion_marker(topic, ctx.epoch_zk_version)
                continue
            log.info("topic %s queued for deletion", topic)
            ctx.topics_to_delete.add(topic)
        await self._resume_deletions()

    async def _resume_deletions(self) -> None:
        ctx = self.ctx
        for topic in sorted(ctx.topics_to_delete):
            if topic not in ctx.assignments:
                ctx.topics_to_delete.discard(topic)
                continue
            moving = [tp for tp in ctx.partitions(topic) if ctx.is_being_reassigned(tp)]
            if moving:
                log.info("deletion of topic %s waits for the reassignment of %s", topic, moving)
                continue
            await self._advance_deletion(topic)

    async def _advance_deletion(self, topic: str) -> None:
        ctx = self.ctx
        tps = ctx.partitions(topic)
        if topic not in self._deletions_started:
            self._deletions_started.add(topic)
            self._send_update_metadata(tps)   # leader -2: brokers stop serving the topic
            for tp in tps:
                if ctx.state(tp) is not PartitionState.NON_EXISTENT:
                    ctx.move(tp, PartitionState.OFFLINE)
                    ctx.move(tp, PartitionState.NON_EXISTENT)
        replicas = [(tp, r) for tp in tps for r in ctx.replicas(tp)]
        if all(ctx.replica_state(tp, r) is ReplicaState.DELETION_SUCCESSFUL
               for tp, r in replicas):
            await self._complete_deletion(topic)
            return
        dead = [(tp, r) for tp, r in replicas if r not in ctx.live_brokers
                and ctx.replica_state(tp, r) is not ReplicaState.DELETION_SUCCESSFUL]
        self._mark_deletion_ineligible(dead)
        todo = [(tp, r) for tp, r in replicas if r in ctx.live_brokers
                and ctx.replica_state(tp, r) in (*_RETRYABLE, ReplicaState.NON_EXISTENT)]
        self._move_replicas([x for x in todo if ctx.replica_state(*x)
                             is ReplicaState.NON_EXISTENT], ReplicaState.NEW)
        self._move_replicas(todo, ReplicaState.OFFLINE)
        self._send_stop_replica(todo, delete=False)
        started = self._move_replicas(todo, ReplicaState.DELETION_STARTED)
        self._send_stop_replica(started, delete=True, on_response=self._on_stop_replica_answer)
        if dead:
            log.info("deletion of topic %s waits for brokers %s", topic,
                     sorted({r for _, r in dead}))

    def _on_stop_replica_answer(self, broker_id: int, request: Any, response: Any) -> None:
        """Runs in the broker's sender task: turn the answer into a controller event."""
        tps = tuple(TopicPartition(t.topic_name, s.partition_index)
                    for t in request.topic_states for s in t.partition_states)
        if isinstance(response, BaseException) or response.error_code:
            failed = tps
        else:
            failed = tuple(TopicPartition(e.topic_name, e.partition_index)
                           for e in response.partition_errors if e.error_code)
        self._post(ev.StopReplicaDeleteResult(broker_id, request.broker_epoch, tps, failed))

    async def _on_stop_replica_deleted(self, event: ev.StopReplicaDeleteResult) -> None:
        ctx = self.ctx
        b = event.broker_id
        topics = set()
        for tp in event.partitions:
            if tp.topic not in ctx.topics_to_delete \
                    or ctx.replica_state(tp, b) is not ReplicaState.DELETION_STARTED:
                continue   # a late answer: the broker died or the topic is gone
            self._move_replicas([(tp, b)], ReplicaState.DELETION_INELIGIBLE
                                if tp in event.failed else ReplicaState.DELETION_SUCCESSFUL)
            topics.add(tp.topic)
        if event.failed:
            log.warning("broker %d failed to delete %s; retrying in %g s", b,
                        list(event.failed), DELETION_RETRY_S)
            self._schedule_deletion_retry()
        for topic in sorted(topics):
            replicas = [(tp, r) for tp in ctx.partitions(topic) for r in ctx.replicas(tp)]
            if all(ctx.replica_state(tp, r) is ReplicaState.DELETION_SUCCESSFUL
                   for tp, r in replicas):
                await self._complete_deletion(topic)

    def _schedule_deletion_retry(self) -> None:
        if self._deletion_retry_scheduled:
            return
        self._deletion_retry_scheduled = True

        async def later() -> None:
            await trio.sleep(DELETION_RETRY_S)
            self._deletion_retry_scheduled = False
            self._post(ev.ResumeDeletions())

        self._nursery.start_soon(later)

    async def _complete_deletion(self, topic: str) -> None:
        ctx = self.ctx
        for tp in ctx.partitions(topic):
            self._move_replicas([(tp, r) for r in ctx.replicas(tp)], ReplicaState.NON_EXISTENT)
        self._stop_topic_watch(topic)
        await self.zk.delete_topic_znodes(topic, ctx.epoch_zk_version)
        ctx.remove_topic(topic)
        self._deletions_started.discard(topic)
        log.info("deleted topic %s", topic)
