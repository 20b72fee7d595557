"""The controller's event loop, failover, partition state machine and leadership writes.

Only the broker that won ``/controller`` runs this. It loads the cluster from ZooKeeper, then
processes one event at a time from a single queue (watch firings, timers, broker responses
and admin calls such as ElectLeaders become events), so its decisions never interleave. Every
ZooKeeper write it makes is fenced on the ``/controller_epoch`` zkVersion; a failed fence
means another controller exists and this one resigns by raising ``ControllerMovedError`` out of
:meth:`ControllerCore.run`.

Partition leaders change ISRs themselves (compare-and-set on the state znode), so the
controller's copy of a state znode is often stale. Every controller state write therefore goes
through :meth:`ControllerCore._update_leadership`, which on BADVERSION re-reads the znode and
decides again from the fresh state (Kafka's retry loop in ``updateLeaderAndIsr``).

Failover order (zookeeper-layout.md §6.3): watches (and ISR-change leftovers deleted), context,
UpdateMetadata to everyone, replica and partition state machines (elections + LeaderAndIsr),
then reassignments and deletions resume.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite import errors
from kafkalite.controller import events as ev
from kafkalite.controller.context import ControllerContext, PartitionLeadership
from kafkalite.controller.election import (new_partition_leader, offline_partition_leader,
                                           remove_replicas_from_isr)
from kafkalite.controller.partition_states import IllegalStateTransition, PartitionState
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.controller.requests import (
    LEADER_AND_ISR_VERSION, STOP_REPLICA_VERSION, UPDATE_METADATA_VERSION,
    leader_and_isr_requests, stop_replica_requests, update_metadata_requests)
from kafkalite.controller.service.channel import ControllerChannel, ResponseCallback
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.zk.errors import BadVersionError, NodeExistsError, ZkError
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.znodes import (IsrChangeNotificationZNode, LeaderIsrAndControllerEpoch,
                                 LogDirEventNotificationZNode, PreferredReplicaElectionZNode,
                                 ReassignPartitionsZNode, TopicAssignment, TopicZNode)

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["ControllerCore", "Decision", "MAX_STATE_WRITE_ATTEMPTS"]

log = logging.getLogger("kafkalite.controller")
state_change_log = logging.getLogger("state.change.logger")

# A leader may change the ISR between our read and our write; that costs one retry. Ten
# consecutive losses for one partition means something keeps writing it: give up (logged),
# the next event that concerns the partition tries again.
MAX_STATE_WRITE_ATTEMPTS = 10

# How long a failing-over controller waits for the brokers to answer the requests of its first
# round (the partitions whose leader died) before it reads the rest of the cluster.
FIRST_ROUND_DELIVERY_S = 10.0

# Partition states read per round trip when a failover reads the rest of the cluster.
STATE_READ_SLICE = 1000

# (partition, its current state) -> the state to write, or None for "nothing to do".
Decision = Callable[[TopicPartition, PartitionLeadership], LeaderIsrAndControllerEpoch | None]


@attrs.define
class _ApiCall:
    fn: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...]
    done: trio.Event = attrs.field(factory=trio.Event)
    result: Any = None
    error: BaseException | None = None


class ControllerCore:
    """The shared machinery; event handlers not defined here (``_on_brokers_changed``,
    ``_on_deletions``, ``_resume_reassignment`` ...) come from the other parts that
    ``ControllerService`` combines."""

    def __init__(self, broker: "Broker", zk: KafkaZk, *, epoch: int, epoch_zk_version: int):
        self.broker = broker
        self.zk = zk
        self.ctx = ControllerContext(epoch=epoch, epoch_zk_version=epoch_zk_version)
        self._event_send, self._events = trio.open_memory_channel(math.inf)
        self._nursery: trio.Nursery | None = None
        self.channel: ControllerChannel | None = None
        self._topic_watches: dict[str, trio.CancelScope] = {}
        self._state_watches: dict[TopicPartition, trio.CancelScope] = {}
        self._seen_triggers: dict[str, int] = {}   # admin trigger path -> czxid processed
        self._deletions_started: set[str] = set()
        self._deletion_retry_scheduled = False
        # While not None, _update_leadership's per-partition state-change lines wait here
        # and are written once the requests are queued (see _online_partitions).
        self._state_log_backlog: list[tuple[Any, ...]] | None = None

    # -- event loop ------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.channel = ControllerChannel(self.broker, nursery)
                started = time.perf_counter()
                await self._register_watches()
                log.info("controller watches registered in %.2f s", time.perf_counter() - started)
                await self._failover()
                if self.broker.config["auto.leader.rebalance.enable"]:
                    nursery.start_soon(self._auto_rebalance_timer)
                task_status.started()
                async for event in self._events:
                    await self._process(event)
        finally:
            self._release_pending_calls()

    async def _call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run ``fn(*args)`` inside the event queue; KafkaErrors it raises reach the caller,
        and a controller that resigns meanwhile answers NotController."""
        call = _ApiCall(fn, args)
        try:
            self._event_send.send_nowait(call)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise errors.NotController("This broker is no longer the controller.") from None
        await call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def _release_pending_calls(self) -> None:
        self._event_send.close()
        while True:
            try:
                event = self._events.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            if isinstance(event, _ApiCall):
                event.error = errors.NotController("The controller moved.")
                event.done.set()

    def _post(self, event: object) -> None:
        try:
            self._event_send.send_nowait(event)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass   # resigned: nobody processes events any more

    async def _process(self, event: object) -> None:
        if isinstance(event, _ApiCall):
            try:
                event.result = await event.fn(*event.args)
            except errors.KafkaError as e:
                event.error = e
            except BaseException:
                event.error = errors.NotController("The controller moved.")
                raise
            finally:
                event.done.set()
            return
        handler = self._handlers().get(type(event))
        if handler is None:
            raise TypeError(f"unknown controller event {event!r}")
        await handler(event)

    def _handlers(self) -> dict[type, Callable[[Any], Awaitable[None]]]:
        return {
            ev.BrokersChanged: lambda e: self._on_brokers_changed(),
            ev.TopicsChanged: lambda e: self._on_topics_changed(set(e.topics)),
            ev.DeletionsChanged: lambda e: self._on_deletions(set(e.topics)),
            ev.IsrChangesNotified: lambda e: self._on_isr_changes(e.names),
            ev.TopicAssignmentChanged: self._on_topic_assignment,
            ev.PartitionStateChanged: self._on_reassigning_partition_state,
            ev.ReassignZNodeChanged: self._on_reassign_znode,
            ev.PreferredElectionZNodeChanged: self._on_preferred_election_znode,
            ev.AutoLeaderRebalanceTick: lambda e: self._check_leader_imbalance(),
            ev.ResumeDeletions: lambda e: self._resume_deletions(),
            ev.StopReplicaDeleteResult: self._on_stop_replica_deleted,
            ev.LogDirEventsNotified: lambda e: self._on_log_dir_events(e.names),
            ev.LeaderAndIsrResponseReceived: self._on_leader_and_isr_response,
        }

    # -- watches ---------------------------------------------------------------------

    def _forward(self, channel: trio.MemoryReceiveChannel,
                 make_event: Callable[[Any], object]) -> trio.CancelScope:
        scope = trio.CancelScope()

        async def forward() -> None:
            try:
                with scope:
                    async for value in channel:
                        self._post(make_event(value))
            finally:
                channel.close()   # the kazoo watch notices on its next firing and ends

        self._nursery.start_soon(forward)
        return scope

    async def _watch_data(self, path: str, make_event: Callable[[bytes | None, Any], object]
                          ) -> trio.CancelScope:
        channel = await self.zk.session.watch_data(path)
        return self._forward(channel, lambda v: make_event(v[0], v[1]))

    async def _register_watches(self) -> None:
        session = self.zk.session
        for path, make in (("/brokers/ids", ev.BrokersChanged),
                           ("/brokers/topics", ev.TopicsChanged),
                           ("/admin/delete_topics", ev.DeletionsChanged),
                           (IsrChangeNotificationZNode.path(), ev.IsrChangesNotified),
                           (LogDirEventNotificationZNode.path(), ev.LogDirEventsNotified)):
            self._forward(await session.watch_children(path),
                          lambda v, make=make: make(tuple(v)))
        # Leftover ISR notifications are stale: the context is loaded fresh below. Leftover
        # log dir events too: failover sends LeaderAndIsr for every partition, and the answers
        # name the replicas in failed log dirs (Kafka deletes both at failover).
        await self.zk.delete_isr_change_notifications(None, self.ctx.epoch_zk_version)
        await self.zk.delete_log_dir_event_notifications(None, self.ctx.epoch_zk_version)
        await self._watch_data(ReassignPartitionsZNode.path(),
                               lambda d, s: ev.ReassignZNodeChanged(
                                   d, s.czxid if s is not None else -1))
        await self._watch_data(PreferredReplicaElectionZNode.path(),
                               lambda d, s: ev.PreferredElectionZNodeChanged(
                                   d, s.czxid if s is not None else -1))

    async def _start_topic_watch(self, topic: str) -> None:
        if topic not in self._topic_watches:
            self._topic_watches[topic] = await self._watch_data(
                TopicZNode.path(topic), lambda d, s: ev.TopicAssignmentChanged(
                    topic, d, s.version if s is not None else -1))

    async def _start_topic_watches(self, topics: Iterable[str]) -> None:
        """Watches of many topics set up concurrently: each costs a round trip (and a
        thread hop), which one after another add up to seconds with thousands of topics."""
        async with trio.open_nursery() as nursery:
            for topic in topics:
                nursery.start_soon(self._start_topic_watch, topic)

    def _stop_topic_watch(self, topic: str) -> None:
        scope = self._topic_watches.pop(topic, None)
        if scope is not None:
            scope.cancel()

    def _stop_state_watch(self, tp: TopicPartition) -> None:
        scope = self._state_watches.pop(tp, None)
        if scope is not None:
            scope.cancel()

    def _trigger_is_new(self, path: str, czxid: int) -> bool:
        """Admin trigger znodes are acted on when created, not on every rewrite (the
        controller rewrites ``/admin/reassign_partitions`` itself as partitions complete)."""
        if czxid < 0 or self._seen_triggers.get(path) == czxid:
            return False
        self._seen_triggers[path] = czxid
        return True

    async def _auto_rebalance_timer(self) -> None:
        interval = self.broker.config["leader.imbalance.check.interval.seconds"]
        # Kafka's first check comes 5 s after failover, then every interval.
        await trio.sleep(min(5, interval))
        while True:
            self._post(ev.AutoLeaderRebalanceTick())
            await trio.sleep(interval)

    # -- failover --------------------------------------------------------------------

    async def _failover(self) -> None:
        """Load the context and bring every partition online (§6.3), in two rounds when the
        cluster is already running: the partitions whose leader is gone wait for nobody.

        Reading every partition-state znode takes seconds with thousands of partitions;
        meanwhile the partitions of a dead predecessor have no leader, and brokers and
        clients see the dead broker and no controller until an UpdateMetadata comes. This
        broker's metadata cache (the last UpdateMetadata of the previous controller) says
        which partitions were led by a broker that is no longer registered: their states
        are read, elected and sent first (UpdateMetadata with the live brokers and no
        partitions; then LeaderAndIsr and UpdateMetadata as in the single round), and the
        controller waits (bounded) for the brokers to answer, since reading thousands of
        znodes keeps this process busy and would hold those requests back. Then the rest of
        the states are read and the failover goes on as usual (UpdateMetadata with the live
        brokers and the topics being deleted, LeaderAndIsr for every partition not sent yet,
        which also elects any partition the cache did not know to be leaderless, then
        UpdateMetadata of those). The cache only decides what goes first, never what is
        written: every election decides from the state znode just read."""
        ctx = self.ctx
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_live_brokers)
            topics = await self.zk.get_all_topics()
            assignments = await self.zk.get_topic_assignments(topics)
            marked = (await self.zk.get_topics_marked_for_deletion()
                      if self.broker.config["delete.topic.enable"] else [])
        self.channel.sync(ctx.live_brokers)
        loaded = [t for t in topics if t in assignments]
        for topic in loaded:
            self._adopt_loaded_assignment(topic, assignments[topic])
        ctx.topics_to_delete = {t for t in marked if t in ctx.assignments}
        everything = ctx.partitions()
        running = bool(self.broker.metadata.topics)   # else a cluster (re)starting
        urgent = self._probably_leaderless(everything) if running else []
        sent: list[TopicPartition] = []
        first: set[TopicPartition] = set()
        if running and len(urgent) < len(everything):
            if urgent:
                states = await self.zk.get_partition_states_many(urgent)
                urgent = [tp for tp in urgent if tp in states]
                self._adopt_states(urgent, states)
            log.info("controller epoch %d: %d partitions without a live leader in the cache "
                     "read in %.2f s; electing them first", ctx.epoch, len(urgent),
                     time.perf_counter() - started)
            # The live brokers and the new controller, to every broker at once, with no
            # partitions (as Kafka's failover): the leaderless ones follow with their new
            # leaders in a moment, and sending their old state first only made every broker
            # decode and apply thousands of partitions before it got to the LeaderAndIsr.
            self._send_update_metadata(())
            if urgent:
                self._init_replica_states(urgent)
                sent = await self._online_partitions(urgent)
                first = set(urgent)
                await self.channel.delivered(FIRST_ROUND_DELIVERY_S)
        rest = [tp for tp in everything if tp not in first]
        # In slices: decoding thousands of states at once would keep this broker from
        # answering anyone (clients asking where the moved partitions are now, among them)
        # for as long; between slices its other tasks run.
        states: dict[TopicPartition, LeaderIsrAndControllerEpoch] = {}
        for i in range(0, len(rest), STATE_READ_SLICE):
            states.update(await self.zk.get_partition_states_many(rest[i:i + STATE_READ_SLICE]))
        self._adopt_states(rest, states, missing_are_new=True)
        log.info("controller epoch %d: live brokers %s, %d topics, %d partitions (read in "
                 "%.2f s)", ctx.epoch, sorted(ctx.live_brokers), len(ctx.assignments),
                 len(ctx.leadership), time.perf_counter() - started)
        # The live brokers and the controller, with the partitions no LeaderAndIsr carries
        # below: those of topics being deleted (leader -2 hides them). Every other partition
        # goes in the UpdateMetadata that follows its LeaderAndIsr (in the first round or
        # below), once, as in Kafka: all of them here as well doubled the brokers' work.
        # A cluster (re)starting (no metadata in this broker's cache) gets every partition
        # here: a broker counts as started once its metadata lists itself, and its clients and
        # tools then expect to find their topics (old leaders at worst, corrected below).
        self._send_update_metadata(
            [tp for tp in everything if tp.topic in ctx.topics_to_delete] if running
            else everything)
        self._init_replica_states(rest)
        await self._online_partitions(everything, send_all=True, already_sent=sent)
        for tp in ctx.partitions_being_reassigned():
            await self._resume_reassignment(tp)
        await self._resume_deletions()
        await self._start_topic_watches(list(ctx.assignments))
        log.info("controller epoch %d: failover done in %.2f s", ctx.epoch,
                 time.perf_counter() - started)

    async def _read_live_brokers(self) -> None:
        self.ctx.live_brokers = {b.broker_id: b for b in await self.zk.get_all_brokers()}

    def _probably_leaderless(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        """Partitions whose leader, as this broker's metadata cache has it, is not a live
        broker (none if the cache knows no partitions: a cluster starting up)."""
        cache = self.broker.metadata
        if not cache.topics:
            return []
        live = self.ctx.live_brokers
        out = []
        for tp in tps:
            meta = cache.partition(tp)
            if meta is not None and meta.leader not in live:
                out.append(tp)
        return out

    def _init_replica_states(self, tps: Iterable[TopicPartition]) -> None:
        ctx = self.ctx
        for tp in tps:
            if tp not in ctx.leadership:
                continue   # a new partition: its replicas become NEW when it is created
            for r in ctx.replicas(tp):
                ctx.replica_states[(tp, r)] = (
                    ReplicaState.ONLINE if r in ctx.live_brokers else
                    ReplicaState.DELETION_INELIGIBLE if tp.topic in ctx.topics_to_delete else
                    ReplicaState.OFFLINE)

    async def _load_topic(self, topic: str) -> bool:
        return topic in await self._load_topics([topic])

    async def _load_topics(self, topics: list[str]) -> list[str]:
        """Read the assignments and partition states of ``topics`` into the context, in a few
        pipelined rounds whatever their number (one round trip per znode, one after another,
        made a failover with thousands of topics take minutes). Returns the topics loaded
        (those that still exist)."""
        assignments = await self.zk.get_topic_assignments(topics)
        loaded = [t for t in topics if t in assignments]
        for topic in loaded:
            self._adopt_loaded_assignment(topic, assignments[topic])
        tps = [tp for t in loaded for tp in self.ctx.partitions(t)]
        self._adopt_states(tps, await self.zk.get_partition_states_many(tps),
                           missing_are_new=True)
        return loaded

    def _adopt_loaded_assignment(self, topic: str, assignment: TopicAssignment) -> None:
        ctx = self.ctx
        ctx.assignments[topic] = {p: tuple(r) for p, r in assignment.partitions.items()}
        ctx.topic_ids[topic] = assignment.topic_id
        ctx.topic_versions[topic] = assignment.zk_version
        for p in assignment.partitions:
            tp = TopicPartition(topic, p)
            for field, value in ((ctx.adding, assignment.adding.get(p)),
                                 (ctx.removing, assignment.removing.get(p))):
                if value:
                    field[tp] = tuple(value)

    def _adopt_states(self, tps: Iterable[TopicPartition],
                      states: dict[TopicPartition, LeaderIsrAndControllerEpoch], *,
                      missing_are_new: bool = False) -> None:
        """Partition states read from ZooKeeper into the context; a partition without one is
        NEW (its creation did not get that far) when ``missing_are_new``."""
        ctx = self.ctx
        for tp in tps:
            st = states.get(tp)
            if st is None:
                if missing_are_new:
                    ctx.states.setdefault(tp, PartitionState.NEW)
                continue
            ctx.leadership[tp] = PartitionLeadership.from_state(st)
            ctx.states[tp] = (PartitionState.ONLINE if st.leader in ctx.live_brokers
                              else PartitionState.OFFLINE)

    # -- partition state machine -----------------------------------------------------

    async def _online_partitions(self, tps: Iterable[TopicPartition], *,
                                 send_all: bool = False,
                                 already_sent: Collection[TopicPartition] = ()
                                 ) -> list[TopicPartition]:
        """New/Offline partitions -> Online (elections), then tell replicas and brokers.

        ``send_all`` also sends LeaderAndIsr for partitions already online (failover), except
        those in ``already_sent`` (sent earlier in the same failover, unchanged since)."""
        ctx = self.ctx
        tps = [tp for tp in tps if tp.topic not in ctx.topics_to_delete]
        created = await self._create_new_partitions(
            [tp for tp in tps if ctx.state(tp) is PartitionState.NEW])
        created_set = set(created)   # sets: with 10,000 partitions list scans are quadratic
        offline = [tp for tp in tps if tp in ctx.leadership and tp not in created_set
                   and (ctx.state(tp) is PartitionState.OFFLINE
                        or not ctx.replica_online(tp, ctx.leadership[tp].leader))]
        # The elections' state-change lines are written after the requests are queued: a
        # failover elects thousands of partitions, and their lines would hold the
        # LeaderAndIsr back by a few tenths of a second.
        self._state_log_backlog = backlog = []
        try:
            changed = created + await self._elect_offline(offline)
        except BaseException:
            for line in backlog:   # (written to ZooKeeper all the same)
                self._log_state_written(line)
            raise
        finally:
            self._state_log_backlog = None
        if send_all:
            seen = set(changed)
            seen.update(already_sent)
            changed += [tp for tp in tps if tp in ctx.leadership and tp not in seen]
        if changed:
            self._send_leader_and_isr(changed, is_new=created)
            self._send_update_metadata(changed)
        for line in backlog:
            self._log_state_written(line)
        return changed

    async def _create_new_partitions(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        """Create the state znodes of new partitions: first live replica leads, ISR = live
        replicas, leader_epoch 0. A state that already exists (a creation interrupted by a
        failover) is adopted instead."""
        ctx = self.ctx
        by_topic: dict[str, dict[int, LeaderIsrAndControllerEpoch]] = {}
        for tp in tps:
            replicas = ctx.replicas(tp)
            state_change_log.info(
                "[Controller id=%d epoch=%d] Changed partition %s state from NonExistentPartition "
                "to NewPartition with assigned replicas %s", self.broker.broker_id, ctx.epoch, tp,
                ",".join(map(str, replicas)))
            self._move_replicas([(tp, r) for r in replicas], ReplicaState.NEW)
            chosen = new_partition_leader(replicas, ctx.live_ids)
            if chosen is None:
                log.warning("%s: no live replica among %s; stays new", tp, list(replicas))
                continue
            leader, isr = chosen
            by_topic.setdefault(tp.topic, {})[tp.partition] = LeaderIsrAndControllerEpoch(
                leader=leader, leader_epoch=0, isr=isr, controller_epoch=ctx.epoch)
        created: list[TopicPartition] = []
        all_results = await self.zk.create_partition_states_many(by_topic, ctx.epoch_zk_version)
        existing = []
        for topic, states in by_topic.items():
            results = all_results[topic]
            for p, r in sorted(results.items()):
                tp = TopicPartition(topic, p)
                if isinstance(r, NodeExistsError):
                    existing.append(tp)
                elif isinstance(r, ZkError):
                    log.warning("%s: creating the partition state failed: %s", tp, r)
                else:
                    ctx.leadership[tp] = PartitionLeadership.from_state(states[p], r)
                    state_change_log.info(
                        "[Controller id=%d epoch=%d] Changed partition %s from NewPartition to "
                        "OnlinePartition with state LeaderAndIsr(leader=%d, leaderEpoch=%d, "
                        "isr=List(%s), zkVersion=%d)", self.broker.broker_id, ctx.epoch, tp,
                        states[p].leader, states[p].leader_epoch,
                        ", ".join(map(str, states[p].isr)), r)
                    ctx.move(tp, PartitionState.ONLINE)
                    created.append(tp)
        if existing:
            await self._refresh_leadership(existing)
            for tp in existing:
                if tp in ctx.leadership:
                    ctx.move(tp, PartitionState.ONLINE if ctx.leadership[tp].leader
                             in ctx.live_brokers else PartitionState.OFFLINE)
                    self._replicas_online_or_offline(tp)
        for tp in created:
            self._replicas_online_or_offline(tp)
        return created

    def _replicas_online_or_offline(self, tp: TopicPartition) -> None:
        live = [(tp, r) for r in self.ctx.replicas(tp) if r in self.ctx.live_brokers]
        dead = [(tp, r) for r in self.ctx.replicas(tp) if r not in self.ctx.live_brokers]
        self._move_replicas(live, ReplicaState.ONLINE)
        self._move_replicas(dead, ReplicaState.OFFLINE)

    async def _elect_offline(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        """Clean election (unclean if the topic allows it) for partitions without a live
        leader; with no eligible replica the partition is left leaderless (-1)."""
        if not tps:
            return []
        ctx = self.ctx
        unclean = await self._unclean_enabled_many(sorted({tp.topic for tp in tps}))

        def decide(tp: TopicPartition, cur: PartitionLeadership):
            if ctx.replica_online(tp, cur.leader):
                return None
            eligible = ctx.eligible_ids(tp)
            chosen = offline_partition_leader(ctx.replicas(tp), cur.isr, eligible,
                                              unclean=unclean[tp.topic])
            if chosen is None:
                log.warning("%s: no eligible leader (isr %s, live %s)", tp, list(cur.isr),
                            sorted(eligible))
                if cur.leader == -1:
                    return None
                gone = [r for r in cur.isr if not ctx.replica_online(tp, r)]
                _, isr = remove_replicas_from_isr(cur.leader, cur.isr, gone)
                return self._new_state(-1, cur.leader_epoch + 1, isr)
            leader, isr, was_unclean = chosen
            if was_unclean:
                self.broker.metrics.unclean_elections += 1
                log.warning("%s: UNCLEAN leader election to %d: data loss possible", tp, leader)
            return self._new_state(leader, cur.leader_epoch + 1, isr)

        started = time.perf_counter()
        done = await self._update_leadership(tps, decide)
        if done:  # ControllerStats' LeaderElectionRateAndTimeMs
            self.broker.metrics.leader_elections.update((time.perf_counter() - started) * 1000)
        for tp in tps:
            if tp in ctx.leadership and not ctx.replica_online(tp, ctx.leadership[tp].leader) \
                    and ctx.state(tp) is not PartitionState.OFFLINE:
                state_change_log.info("[Controller id=%d epoch=%d] Changed partition %s state "
                                      "from %s to OfflinePartition", self.broker.broker_id,
                                      ctx.epoch, tp, ctx.state(tp).value)
                ctx.move(tp, PartitionState.OFFLINE)
        return done

    def _new_state(self, leader: int, leader_epoch: int, isr: Iterable[int]
                   ) -> LeaderIsrAndControllerEpoch:
        return LeaderIsrAndControllerEpoch(leader=leader, leader_epoch=leader_epoch,
                                           isr=tuple(isr), controller_epoch=self.ctx.epoch)

    async def _update_leadership(self, tps: Iterable[TopicPartition], decide: Decision
                                 ) -> list[TopicPartition]:
        """Write ``decide(tp, current)`` for each partition (CAS on its zkVersion, fenced).

        BADVERSION means the leader changed the ISR meanwhile: re-read those state znodes
        and decide again from what they hold now. Returns the partitions written.
        """
        ctx = self.ctx
        pending = [tp for tp in dict.fromkeys(tps) if tp in ctx.leadership]
        done: list[TopicPartition] = []
        for _attempt in range(MAX_STATE_WRITE_ATTEMPTS):
            updates = {}
            for tp in pending:
                cur = ctx.leadership[tp]
                new = decide(tp, cur)
                if new is not None:
                    updates[tp] = (new, cur.zk_version)
            if not updates:
                return done
            results = await self.zk.update_partition_states(updates, ctx.epoch_zk_version)
            retry = []
            for tp, result in results.items():
                if isinstance(result, BadVersionError):
                    retry.append(tp)
                elif isinstance(result, ZkError):
                    log.warning("%s: partition state write failed: %s", tp, result)
                else:
                    st = updates[tp][0]
                    ctx.leadership[tp] = PartitionLeadership.from_state(st, result)
                    line = (self.broker.broker_id, ctx.epoch, tp, ctx.state(tp).value,
                            "OnlinePartition" if st.leader >= 0 else "OfflinePartition",
                            st.leader, st.leader_epoch, ", ".join(map(str, st.isr)), result)
                    if self._state_log_backlog is not None:
                        self._state_log_backlog.append(line)
                    else:
                        self._log_state_written(line)
                    if ctx.state(tp) is not PartitionState.NON_EXISTENT:
                        ctx.move(tp, PartitionState.ONLINE if st.leader >= 0
                                 else PartitionState.OFFLINE)
                    done.append(tp)
            if not retry:
                return done
            log.info("partition states changed under us for %s; re-reading", retry)
            await self._refresh_leadership(retry)
            pending = [tp for tp in retry if tp in ctx.leadership]
        log.warning("gave up writing partition states of %s after %d attempts", pending,
                    MAX_STATE_WRITE_ATTEMPTS)
        return done

    @staticmethod
    def _log_state_written(line: tuple[Any, ...]) -> None:
        state_change_log.info(
            "[Controller id=%d epoch=%d] Changed partition %s from %s to %s with state "
            "LeaderAndIsr(leader=%d, leaderEpoch=%d, isr=List(%s), zkVersion=%d)", *line)

    async def _refresh_leadership(self, tps: list[TopicPartition]) -> None:
        """Re-read state znodes into the context (leaders write ISR changes themselves)."""
        if not tps:
            return
        fresh = await self.zk.get_partition_states_many(tps)
        for tp in tps:
            st = fresh.get(tp)
            if st is not None:
                self.ctx.leadership[tp] = PartitionLeadership.from_state(st)

    async def _unclean_enabled_many(self, topics: list[str]) -> dict[str, bool]:
        """``unclean.leader.election.enable`` of each topic (its override, else the broker's),
        read with one pipelined round."""
        default = bool(self.broker.config["unclean.leader.election.enable"])
        out = {}
        for topic, cfg in (await self.zk.get_topic_configs(topics)).items():
            value = cfg.get("unclean.leader.election.enable")
            out[topic] = default if value is None else value.strip().lower() == "true"
        return out

    # -- replica state machine -------------------------------------------------------

    def _move_replicas(self, replicas: Iterable[tuple[TopicPartition, int]],
                       target: ReplicaState) -> list[tuple[TopicPartition, int]]:
        """Move replicas that are not already there; an illegal move is logged and that
        replica skipped (Kafka's logInvalidTransition). Returns the replicas moved."""
        moved = []
        for tp, r in replicas:
            current = self.ctx.replica_state(tp, r)
            if current is target and target not in (ReplicaState.ONLINE, ReplicaState.OFFLINE):
                continue
            try:
                self.ctx.move_replica(tp, r, target)
            except IllegalStateTransition as e:
                log.error("replica %d of %s: illegal state change %s", r, tp, e)
                continue
            moved.append((tp, r))
        return moved

    def _mark_deletion_ineligible(self, replicas: Iterable[tuple[TopicPartition, int]]) -> None:
        """Replicas of a topic being deleted whose broker is dead (or failed): they wait."""
        S = ReplicaState
        for tp, r in replicas:
            current = self.ctx.replica_state(tp, r)
            if current in (S.DELETION_INELIGIBLE, S.DELETION_SUCCESSFUL):
                continue
            if current is S.NON_EXISTENT:
                self._move_replicas([(tp, r)], S.NEW)
            if current is not S.DELETION_STARTED:
                self._move_replicas([(tp, r)], S.OFFLINE)
            self._move_replicas([(tp, r)], S.DELETION_INELIGIBLE)

    # -- topics ----------------------------------------------------------------------

    async def _on_topics_changed(self, topics: set[str]) -> None:
        """New topics are loaded and brought online together: one LeaderAndIsr and one
        UpdateMetadata per broker for all of them, not one per topic."""
        ctx = self.ctx
        new = await self._load_topics(sorted(topics - set(ctx.assignments)))
        for topic in new:
            log.info("new topic %s with %d partitions", topic, len(ctx.assignments[topic]))
        if new:
            await self._start_topic_watches(new)
            await self._online_partitions([tp for t in new for tp in ctx.partitions(t)])
        for topic in sorted(set(ctx.assignments) - topics):
            # Gone without our deletion (removed by hand): forget it, as Kafka does. The
            # listing may predate a topic loaded since, hence the check.
            if topic not in ctx.topics_to_delete and not await self.zk.topic_exists(topic):
                log.warning("topic %s disappeared from ZooKeeper", topic)
                self._stop_topic_watch(topic)
                for tp in ctx.partitions(topic):
                    self._stop_state_watch(tp)
                ctx.remove_topic(topic)

    async def _on_topic_assignment(self, event: ev.TopicAssignmentChanged) -> None:
        """Partitions added to an existing topic (kafka-topics --alter, CreatePartitions)."""
        ctx = self.ctx
        topic = event.topic
        if event.data is None or topic not in ctx.assignments:
            return
        try:
            assignment = TopicZNode.decode(event.data, event.version)
        except (ValueError, KeyError, TypeError) as e:
            log.error("unreadable assignment of topic %s: %s", topic, e)
            return
        await self._adopt_assignment(topic, assignment)

    async def _adopt_assignment(self, topic: str, assignment: TopicAssignment) -> None:
        """Take in an assignment written by someone else: new partitions go New -> Online.
        Changes to existing partitions are ignored, as in Kafka (reassignment is the way)."""
        ctx = self.ctx
        ctx.topic_versions[topic] = max(ctx.topic_versions.get(topic, -1), assignment.zk_version)
        added = {p: tuple(r) for p, r in assignment.partitions.items()
                 if p not in ctx.assignments[topic]}
        if not added:
            return
        if topic in ctx.topics_to_delete:
            log.info("not adding partitions %s to %s: the topic is being deleted",
                     sorted(added), topic)
            return
        log.info("partitions %s added to topic %s", sorted(added), topic)
        for p, replicas in added.items():
            ctx.assignments[topic][p] = replicas
            ctx.states[TopicPartition(topic, p)] = PartitionState.NEW
        await self._online_partitions([TopicPartition(topic, p) for p in sorted(added)])

    async def _on_isr_changes(self, names: tuple[str, ...]) -> None:
        """Leaders changed ISRs (§3.11): re-read them, tell every broker, drop the notices."""
        if not names:
            return
        ctx = self.ctx
        tps = await self.zk.get_partitions_from_isr_change_notifications(names)
        known = [tp for tp in tps if tp in ctx.leadership
                 and tp.topic not in ctx.topics_to_delete]
        if known:
            await self._refresh_leadership(known)
            self._send_update_metadata(known)
        await self.zk.delete_isr_change_notifications(names, ctx.epoch_zk_version)
        for tp in known:
            if ctx.is_being_reassigned(tp):
                await self._maybe_complete_reassignment(tp)

    # -- requests to brokers ---------------------------------------------------------

    def _send_leader_and_isr(self, tps: Iterable[TopicPartition], *,
                             is_new: Iterable[TopicPartition] = (),
                             recipients: Iterable[int] | None = None,
                             exclude: Iterable[int] = ()) -> None:
        reqs = leader_and_isr_requests(
            self.ctx, tps, controller_id=self.broker.broker_id,
            listener=self.broker.inter_broker_listener, is_new=set(is_new),
            recipients=None if recipients is None else set(recipients), exclude=set(exclude))
        for b, req in reqs.items():
            state_change_log.info(
                "[Controller id=%d epoch=%d] Sending LeaderAndIsr request to broker %d with %d "
                "become-leader and %d become-follower partitions", self.broker.broker_id,
                self.ctx.epoch, b,
                sum(s.leader == b for t in req.topic_states for s in t.partition_states),
                sum(s.leader != b for t in req.topic_states for s in t.partition_states))
            self.channel.send(b, ApiKey.LEADER_AND_ISR, LEADER_AND_ISR_VERSION, req,
                              lambda resp, b=b, epoch=req.broker_epoch:
                              self._leader_and_isr_answered(b, epoch, resp))

    def _leader_and_isr_answered(self, broker_id: int, broker_epoch: int, resp: Any) -> None:
        """Per-partition answers become an event: KAFKA_STORAGE_ERROR marks a replica in a
        failed log dir (Kafka's LeaderAndIsrResponseReceived)."""
        partition_errors = getattr(resp, "partition_errors", None)
        if not partition_errors or getattr(resp, "error_code", 0):
            return   # failed as a whole (the broker is gone or fenced): nothing learned
        offline, online = [], []
        for e in partition_errors:
            tp = TopicPartition(e.topic_name, e.partition_index)
            if e.error_code == errors.KafkaStorageError.code:
                offline.append(tp)
            elif e.error_code == 0:
                online.append(tp)
        if offline or self.ctx.replicas_on_offline_dirs.get(broker_id):
            self._post(ev.LeaderAndIsrResponseReceived(broker_id, broker_epoch, tuple(offline),
                                                       tuple(online)))

    def _send_update_metadata(self, tps: Iterable[TopicPartition], *,
                              brokers: Iterable[int] | None = None) -> None:
        """UpdateMetadata to ``brokers`` (default: every live broker, shutting down too)."""
        targets = self.ctx.live_brokers if brokers is None else brokers
        reqs = update_metadata_requests(self.ctx, targets, tps,
                                        controller_id=self.broker.broker_id)
        state_change_log.info(
            "[Controller id=%d epoch=%d] Sending UpdateMetadata request to brokers Set(%s) for %d "
            "partitions", self.broker.broker_id, self.ctx.epoch, ", ".join(map(str, sorted(reqs))),
            sum(len(t.partition_states) for t in next(iter(reqs.values())).topic_states)
            if reqs else 0)
        for b, req in reqs.items():
            self.channel.send(b, ApiKey.UPDATE_METADATA, UPDATE_METADATA_VERSION, req)

    def _send_stop_replica(self, replicas: Iterable[tuple[TopicPartition, int]], *,
                           delete: bool,
                           on_response: Callable[[int, Any, Any], None] | None = None) -> None:
        reqs = stop_replica_requests(self.ctx, replicas, controller_id=self.broker.broker_id,
                                     delete=delete)
        for b, req in reqs.items():
            callback: ResponseCallback | None = None
            if on_response is not None:
                callback = (lambda resp, b=b, req=req: on_response(b, req, resp))
            self.channel.send(b, ApiKey.STOP_REPLICA, STOP_REPLICA_VERSION, req, callback)
