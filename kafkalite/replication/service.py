"""The replica manager: the trio shell that owns this broker's partitions.

It applies the controller's LeaderAndIsr/StopReplica decisions to :class:`Partition` objects,
appends produced batches to the leader's log and serves fetches. Slow requests wait in a
purgatory keyed by partition (Kafka's DelayedFetch/DelayedProduce): a parked request registers
one trio Event under each partition it waits on, and an append, a high-watermark move or a
leadership change on a partition sets exactly the Events registered there, so a request wakes
as soon as its data arrives and appends elsewhere cost it nothing. The deadline is a cancel
scope.

Hot path: a produce request's records stay a ``memoryview`` of the network buffer; batches are
validated by header (CRC, sizes), patched in place and written; no per-record work.

A log dir that fails (an OSError from a log: a full disk) goes offline with every partition
in it (Kafka's ReplicaManager.handleLogDirFailure, KIP-112): those partitions leave
:attr:`ReplicaManager.partitions` for :attr:`ReplicaManager.offline_partitions` and answer
KAFKA_STORAGE_ERROR from then on (produce, fetch, LeaderAndIsr), their fetchers stop, and a
``/log_dir_event_notification`` tells the controller, which learns from its LeaderAndIsr
responses which replicas are offline and moves leadership and ISRs away from them. The broker
stays up while one log dir lives; with none left it halts, as Kafka does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import trio

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.codec import FileRegion
from kafkalite.records.validate import validate_batches
from kafkalite.replication.partition import Partition, Role
from kafkalite.storage.cleaner import validate_compacted_records
from kafkalite.storage.config import LogConfig
from kafkalite.storage.log import Log
from kafkalite.storage.manager import LogManager
from kafkalite.storage.producer_state import AppendOrigin
from kafkalite.web.broker_metrics import remote_wait
from kafkalite.zk.errors import ZkError
from kafkalite.zk.znodes import LeaderIsrAndControllerEpoch

__all__ = ["AcksWait", "LeadershipChange", "ReplicaManager", "ReplicationConfig", "ProduceResult", "FetchResult", "PartitionFetch", "PinnedRegion",
           "now_ms", "monotonic_ms"]

log = logging.getLogger(__name__)
partition_log = logging.getLogger("kafkalite.replication.partition")   # kafka.cluster.Partition
state_change_log = logging.getLogger("state.change.logger")


DEBUGGING_CONSUMER_ID = -2  # kafka-replica-verification.sh may read followers

# TEST ONLY: a deliberately broken build for ``make chaos``'s proof that its checker can fail.
# With KAFKALITE_TEST_UNSAFE_ACKS=1 in the broker's environment, acks=all is answered right
# after the leader's own append, before the high watermark passes the batch (as acks=1 is),
# so a leader that dies before its followers fetch takes acknowledged writes with it. Never
# set it anywhere else.
UNSAFE_ACKS_FOR_TESTS = os.environ.get("KAFKALITE_TEST_UNSAFE_ACKS") == "1"


def now_ms() -> int:
    """Wall-clock milliseconds: record timestamps, LogAppendTime, segment ages."""
    return int(time.time() * 1000)


def monotonic_ms() -> int:
    """Milliseconds of a clock that never jumps: how long a follower has lagged, when ISR
    changes were last propagated. An NTP step or an operator moving the wall clock by an hour
    must not make every follower look an hour behind (an ISR shrink storm)."""
    return int(time.monotonic() * 1000)


def _produce_watch(p: Partition | None) -> tuple:
    """What completes an acks=all produce request: the high watermark, the ISR (min.insync
    check) and the partition's role and epoch (or its removal)."""
    if p is None:
        return (None,)
    return (p, p.role, p.leader_epoch, p.high_watermark, p.isr)


def _follower_watch(p: Partition | None) -> tuple:
    """What completes a follower's parked fetch: new data (the log end) or a change that
    answers with an error or a new log start (Kafka's DelayedFetch completes on bytes, not
    on high-watermark moves)."""
    if p is None:
        return (None,)
    return (p, p.role, p.leader_epoch, p.log_end_offset, p.log_start_offset)


def _consumer_watch(p: Partition | None) -> tuple:
    """What completes a consumer's parked fetch: data made visible (high watermark, last
    stable offset) or a change that answers with an error."""
    if p is None:
        return (None,)
    return (p, p.role, p.leader_epoch, p.high_watermark, p.last_stable_offset,
            p.log_start_offset)


def _same_state(a: tuple, b: tuple) -> bool:
    """Watched states compare the partition by identity (a Partition's own ``==`` compares
    every field) and the rest by value."""
    return a[0] is b[0] and a[1:] == b[1:]


@attrs.frozen
class PinnedRegion(FileRegion):
    """A file region that keeps its segment's file handle open until the bytes are sent, even
    if the segment is deleted (retention, topic deletion) meanwhile."""

    handle: object = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class ProduceResult:
    error: type[KafkaError] | None = None
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    message: str | None = None
    last_offset: int = -1


@attrs.frozen
class PartitionFetch:
    tp: TopicPartition
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1


@attrs.frozen
class FetchResult:
    error: type[KafkaError] | None = None
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    records: tuple[FileRegion, ...] = ()
    size: int = 0
    # read_committed: (producer id, first offset) of aborted transactions in the fetched range
    aborted_transactions: tuple[tuple[int, int], ...] | None = None


@attrs.frozen
class ReplicationConfig:
    replica_lag_time_max_ms: int = 30000
    # Kafka checks ISR shrink every lag/2 and propagates ISR changes to the controller every
    # 2.5 s once none happened for 5 s (or 60 s passed): bursts become one notification.
    isr_propagation_check_ms: int = 2500
    isr_propagation_quiet_ms: int = 5000
    isr_propagation_max_delay_ms: int = 60000


class AcksWait:
    """An acks=all append waiting until the high watermark passes every appended batch (or
    the request's timeout, counted from the append). ``wait`` may be cancelled and awaited
    again: what is settled stays in ``results``."""

    __slots__ = ("rm", "results", "pending", "deadline")

    def __init__(self, rm: ReplicaManager, results: dict[TopicPartition, ProduceResult],
                 pending: dict[TopicPartition, ProduceResult], deadline: float):
        self.rm, self.results, self.pending, self.deadline = rm, results, pending, deadline

    def check(self) -> bool:
        """Settle the partitions that are done; True when none is left."""
        partitions, results, pending = self.rm.partitions, self.results, self.pending
        for tp, r in list(pending.items()):
            p = partitions.get(tp)
            if p is None or not p.is_leader:
                results[tp] = ProduceResult(errors.NotLeaderOrFollower)
                del pending[tp]
            elif p.high_watermark > r.last_offset:
                if len(p.isr) < p.log.config.min_insync_replicas:
                    results[tp] = attrs.evolve(r, error=errors.NotEnoughReplicasAfterAppend)
                del pending[tp]
        return not pending

    async def wait(self) -> dict[TopicPartition, ProduceResult]:
        rm = self.rm
        rm.delayed["Produce"] += 1
        try:
            with remote_wait(), trio.move_on_at(self.deadline):
                while not self.check():
                    await rm._wait_for_change(self.pending)
        finally:
            rm.delayed["Produce"] -= 1
        for tp in self.pending:
            self.results[tp] = ProduceResult(errors.RequestTimedOut)
        return self.results


@attrs.frozen
class LeadershipChange:
    """One partition state of a LeaderAndIsr request, as the replica manager applies it."""

    tp: TopicPartition
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    replicas: tuple[int, ...]
    partition_epoch: int
    controller_epoch: int
    is_new: bool = False


class ReplicaManager:
    def __init__(self, *, broker_id: int, log_manager: LogManager, topic_config,
                 zk=None, config: ReplicationConfig = ReplicationConfig(),
                 lag_clock_ms: Callable[[], int] = monotonic_ms):
        """``topic_config(topic) -> LogConfig`` merges broker defaults with topic overrides;
        ``zk`` (a KafkaZk) is where the leader writes ISR changes; ``lag_clock_ms`` measures
        follower lag and ISR propagation delays (monotonic)."""
        self.broker_id = broker_id
        self.lag_clock_ms = lag_clock_ms
        self.log_manager = log_manager
        self.topic_config = topic_config
        self.zk = zk
        self.config = config
        self.partitions: dict[TopicPartition, Partition] = {}
        # parked requests per partition: event -> (watch, the watched state when it parked)
        self._waiters: dict[TopicPartition, dict[trio.Event, tuple]] = {}
        # Called as ``(tp, is_leader, leader_epoch)`` after every role change (the group and
        # transaction coordinators load/unload their topics' partitions with it).
        self.leadership_listeners: list = []
        self.fetchers = None  # a FetcherManager, set by the broker
        self._expand_candidates: set[TopicPartition] = set()
        self._isr_work = trio.Event()
        self._isr_changed: set[TopicPartition] = set()
        self._last_isr_change_ms = 0
        self._last_isr_propagation_ms = 0
        # For the metrics endpoint: requests parked now (Kafka's purgatory sizes) and ISR
        # changes so far.
        self.delayed = {"Produce": 0, "Fetch": 0}
        self.isr_shrinks = 0
        self.isr_expands = 0
        # Partitions whose log dir failed: KAFKA_STORAGE_ERROR until the broker restarts.
        self.offline_partitions: set[TopicPartition] = set()
        self._log_dir_events = 0   # failures not yet posted to ZooKeeper
        self._log_dir_work = trio.Event()
        # Called when no log dir is left (the broker halts, as Kafka does).
        self.on_all_log_dirs_offline: Callable[[], None] | None = None
        log_manager.log_dir_failure_listener = self._on_log_dir_offline
        # Whether the broker's metadata has a partition (set by the broker from its
        # UpdateMetadata cache): see :meth:`missing_partition_error`.
        self.known_partition: Callable[[TopicPartition], bool] = lambda tp: False

    # -- purgatory -------------------------------------------------------------------

    def _notify(self, tps: Iterable[TopicPartition] | None = None) -> None:
        """Wake requests parked on ``tps`` whose watched state of the partition changed (all
        parked requests when None).

        Each waiter watches only what can complete it (see :func:`_produce_watch`,
        :func:`_follower_watch`, :func:`_consumer_watch`): under acks=all load an append, a
        high-watermark move and an ISR change all notify the partition, and waking every
        parked produce request and follower fetch for each of them cost the leader a task
        switch and a re-check per waiter per event, for nothing in most cases."""
        if tps is None:
            waiters, self._waiters = self._waiters, {}
            for waiting in waiters.values():
                for event in waiting:
                    event.set()
            return
        for tp in tps:
            waiting = self._waiters.get(tp)
            if not waiting:
                continue
            p = self.partitions.get(tp)
            woken = [event for event, (watch, seen) in waiting.items()
                     if not _same_state(watch(p), seen)]
            for event in woken:
                del waiting[event]
                event.set()
            if not waiting:
                del self._waiters[tp]

    async def _wait_for_change(self, tps: Iterable[TopicPartition],
                               watch: Callable[[Partition | None], tuple] | None = None) -> None:
        """Park until ``watch(partition)`` of one of ``tps`` differs from what it is now
        (default :func:`_produce_watch`: what an acks=all produce request waits for). The
        state is taken when parking, with no checkpoint between the caller's last look and
        here, so no change can slip through unseen."""
        watch = watch or _produce_watch
        event = trio.Event()
        tps = list(tps)
        for tp in tps:
            self._waiters.setdefault(tp, {})[event] = (watch, watch(self.partitions.get(tp)))
        try:
            await event.wait()
        finally:
            for tp in tps:
                waiting = self._waiters.get(tp)
                if waiting is not None:
                    waiting.pop(event, None)
                    if not waiting:
                        del self._waiters[tp]

    async def _coalesce(self) -> None:
        """Let the tasks that are already runnable go first: a fetch woken by an append reads
        after the other produce requests whose bytes have arrived have appended too.

        An append wakes the parked fetches at once, but the requests of other connections
        that trio woke in the same round have not run yet; reading right away would answer
        one batch per fetch, and a follower that fetches once per produce request costs the
        leader a fetch per produce. One scheduling round later the fetch carries all of
        them, and their acks=all waiters see the high watermark pass in one step when the
        followers' next fetches arrive. The wait costs one pass of the run queue."""
        await trio.lowlevel.checkpoint()

    # -- log dir failures ----------------------------------------------------------------

    @contextlib.contextmanager
    def log_dir_guard(self, tp: TopicPartition) -> Iterator[None]:
        """Around an operation on ``tp``'s log: an OSError takes its log dir offline and is
        re-raised as KafkaStorageError."""
        try:
            yield
        except OSError as e:
            log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
            if log_dir is not None:
                self.log_manager.fail_log_dir(log_dir, e)
            raise errors.KafkaStorageError(f"Error while accessing the log of {tp}: {e}") from e

    def _on_log_dir_offline(self, log_dir: Path, tps: list[TopicPartition]) -> None:
        """The log manager took ``log_dir`` offline with ``tps``: stop serving them."""
        log.warning("[ReplicaManager broker=%d] Stopping serving replicas in dir %s",
                    self.broker_id, log_dir)
        hosted = [tp for tp in tps if tp in self.partitions]
        for tp in tps:
            self.offline_partitions.add(tp)
            p = self.partitions.pop(tp, None)
            if p is not None:
                p.role = Role.NONE
        if self.fetchers is not None:
            self.fetchers.unfollow(tps)
        self._notify(tps)
        for tp in hosted:
            for listener in list(self.leadership_listeners):
                listener(tp, False, -1)
        log.error("[ReplicaManager broker=%d] Broker %d stopped fetcher for partitions %s "
                  "because they are in the failed log directory %s.", self.broker_id,
                  self.broker_id, ",".join(map(str, tps)), log_dir)
        self._log_dir_events += 1
        self._log_dir_work.set()
        if not self.log_manager.live_log_dirs and self.on_all_log_dirs_offline is not None:
            self.on_all_log_dirs_offline()

    async def run_log_dir_notifier(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Post a ``/log_dir_event_notification`` for every log dir failure (retried while
        ZooKeeper is unreachable)."""
        task_status.started()
        while True:
            await self._log_dir_work.wait()
            self._log_dir_work = trio.Event()
            while self._log_dir_events and self.zk is not None:
                try:
                    await self.zk.post_log_dir_event_notification(self.broker_id)
                except ZkError as e:
                    log.warning("log dir event notification failed (%s); will retry", e)
                    await trio.sleep(1)
                    continue
                self._log_dir_events -= 1

    # -- controller requests -----------------------------------------------------------

    def get_partition(self, tp: TopicPartition) -> Partition | None:
        return self.partitions.get(tp)

    def missing_partition_error(self, tp: TopicPartition) -> type[KafkaError]:
        """The error for a request naming a partition this broker does not host (Kafka's
        ``ReplicaManager.getPartitionOrError``).

        A partition the metadata knows answers NOT_LEADER_OR_FOLLOWER: the client's metadata
        is stale (a reassignment moved the replica away) or this broker has just restarted
        and its LeaderAndIsr has not arrived yet, and clients refresh metadata and retry that
        error. UNKNOWN_TOPIC_OR_PARTITION is kept for partitions nobody knows, and a partition
        whose log dir failed answers KAFKA_STORAGE_ERROR."""
        if tp in self.offline_partitions:
            return errors.KafkaStorageError
        if self.known_partition(tp):
            return errors.NotLeaderOrFollower
        return errors.UnknownTopicOrPartition

    def _get_or_create_partition(self, tp: TopicPartition, is_new: bool = True) -> Partition:
        p = self.partitions.get(tp)
        if p is None:
            cfg: LogConfig = self.topic_config(tp.topic)
            lg = self.log_manager.get_or_create_log(tp.topic, tp.partition, cfg, is_new=is_new)
            p = Partition(tp=tp, log=lg, local_broker_id=self.broker_id)
            self.partitions[tp] = p
        return p

    def become_leader_or_follower(self, tp: TopicPartition, *, leader: int, leader_epoch: int,
                                  isr: Sequence[int], replicas: Sequence[int],
                                  partition_epoch: int, controller_epoch: int,
                                  is_new: bool = True) -> type[KafkaError] | None:
        """Apply one partition state of a LeaderAndIsr request (already epoch-checked); see
        :meth:`become_leaders_or_followers`."""
        return self.become_leaders_or_followers([LeadershipChange(
            tp, leader=leader, leader_epoch=leader_epoch, isr=tuple(isr),
            replicas=tuple(replicas), partition_epoch=partition_epoch,
            controller_epoch=controller_epoch, is_new=is_new)])[0]

    def become_leaders_or_followers(self, changes: Sequence[LeadershipChange]
                                    ) -> list[type[KafkaError] | None]:
        """Apply the partition states of a LeaderAndIsr request (already epoch-checked), one
        error (or None) per change. KAFKA_STORAGE_ERROR for a partition whose log dir failed
        (the controller then takes this replica offline).

        The partitions are applied as one batch, as Kafka's ``makeLeaders``/``makeFollowers``
        do: one fetcher update per source broker (a fetcher keeps its connection and session
        and adds or forgets partitions in it) and one wake-up of the requests parked on them,
        so a request of thousands of partitions costs little more than its per-partition
        bookkeeping."""
        out: list[type[KafkaError] | None] = []
        follow: dict[TopicPartition, tuple[int, int]] = {}
        unfollow: list[TopicPartition] = []
        applied: list[LeadershipChange] = []
        try:
            for c in changes:
                if self.broker_id not in c.replicas:
                    out.append(errors.UnknownTopicOrPartition)
                    continue
                if c.tp in self.offline_partitions:
                    out.append(errors.KafkaStorageError)
                    continue
                try:
                    with self.log_dir_guard(c.tp):
                        err = self._become_leader_or_follower(c, follow, unfollow)
                except errors.KafkaStorageError as e:
                    log.error("[Broker id=%d] %s: %s", self.broker_id, c.tp, e)
                    follow.pop(c.tp, None)
                    err = errors.KafkaStorageError
                out.append(err)
                if err is None:
                    applied.append(c)
        finally:
            # Also after an unexpected error: what was applied is fetched (or not) as it says.
            if self.fetchers is not None and (follow or unfollow):
                # A partition that went offline meanwhile is not fetched (log_dir_guard).
                self.fetchers.update({tp: v for tp, v in follow.items()
                                      if tp not in self.offline_partitions}, unfollow)
            self._notify([c.tp for c in applied])
        listeners = list(self.leadership_listeners)
        if listeners:
            for c in applied:
                for listener in listeners:
                    listener(c.tp, c.leader == self.broker_id, c.leader_epoch)
        return out

    def _become_leader_or_follower(self, c: LeadershipChange,
                                   follow: dict[TopicPartition, tuple[int, int]],
                                   unfollow: list[TopicPartition]) -> type[KafkaError] | None:
        """One partition of :meth:`become_leaders_or_followers`; fetcher changes are
        collected in ``follow``/``unfollow`` and applied for the whole batch."""
        tp, leader, leader_epoch = c.tp, c.leader, c.leader_epoch
        p = self._get_or_create_partition(tp, c.is_new)
        if p.leader_epoch > leader_epoch:
            return errors.StaleControllerEpoch
        if leader == self.broker_id:
            follow.pop(tp, None)
            unfollow.append(tp)
            p.make_leader(leader_epoch=leader_epoch, isr=c.isr, replicas=c.replicas,
                          partition_epoch=c.partition_epoch,
                          controller_epoch=c.controller_epoch, now_ms=self.lag_clock_ms())
            state_change_log.info("[Broker id=%d] Leader %s starts at leader epoch %d from offset "
                                  "%d with high watermark %d ISR [%s]", self.broker_id, tp,
                                  leader_epoch, p.log_end_offset, p.high_watermark,
                                  ",".join(map(str, c.isr)))
        else:
            changed = p.make_follower(leader_id=leader, leader_epoch=leader_epoch,
                                      isr=c.isr, replicas=c.replicas,
                                      partition_epoch=c.partition_epoch,
                                      controller_epoch=c.controller_epoch)
            if self.fetchers is not None and (changed or tp in follow
                                              or not self.fetchers.follows(tp)):
                if leader >= 0:
                    follow[tp] = (leader, leader_epoch)
                else:
                    follow.pop(tp, None)
                    unfollow.append(tp)
            state_change_log.info("[Broker id=%d] Follower %s starts at leader epoch %d from "
                                  "offset %d with high watermark %d (leader %d)", self.broker_id,
                                  tp, leader_epoch, p.log_end_offset, p.high_watermark, leader)
        return None

    def stop_replicas(self, stops: Sequence[tuple[TopicPartition, bool]]) -> list[Log]:
        """Apply a StopReplica: stop serving and fetching the partitions of ``stops`` (pairs
        of partition and whether to delete it), as one batch like LeaderAndIsr's (one fetcher
        update, one wake-up of the requests parked on them). The logs to delete are staged
        (renamed, :meth:`LogManager.stage_deletions`) and returned: the caller removes their
        files later, as Kafka's asyncDelete does, because a deleted topic of thousands of
        partitions would otherwise hold the event loop for seconds."""
        tps = [tp for tp, _ in stops]
        if self.fetchers is not None:
            self.fetchers.unfollow(tps)
        stopped: list[TopicPartition] = []
        for tp in tps:
            p = self.partitions.pop(tp, None)
            if p is not None:
                p.role = Role.NONE
                stopped.append(tp)
        try:
            return self.log_manager.stage_deletions(tp for tp, delete in stops if delete)
        finally:
            self._notify(tps)
            listeners = list(self.leadership_listeners)
            for tp in stopped:
                for listener in listeners:
                    listener(tp, False, -1)

    def follower_appended(self, p: Partition) -> None:
        """A replica fetcher appended to ``p``: wake debugging fetches parked on it."""
        self._notify([p.tp])

    # -- ISR (the leader's side, zookeeper-layout.md §6.7) ------------------------------------

    async def run_isr_maintenance(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Shrink and expand ISRs of partitions we lead, and propagate changes to the controller.

        Expansion candidates come from follower fetches (:meth:`_read_one` cannot wait on
        ZooKeeper, so it only queues them); shrinking is checked every lag/2."""
        task_status.started()
        cfg = self.config
        shrink_every = max(cfg.replica_lag_time_max_ms / 2, 100) / 1000
        next_shrink = trio.current_time() + shrink_every
        next_propagation = trio.current_time() + cfg.isr_propagation_check_ms / 1000
        while True:
            with trio.move_on_at(min(next_shrink, next_propagation)):
                await self._isr_work.wait()
            self._isr_work = trio.Event()
            candidates, self._expand_candidates = self._expand_candidates, set()
            writes: list[tuple[Partition, tuple[int, ...], str]] = []
            for tp in candidates:
                p = self.partitions.get(tp)
                if p is None:
                    continue
                for r in p.replicas:
                    new_isr = p.isr_to_expand(r)
                    if new_isr is not None:
                        writes.append((p, new_isr, "expanding"))
                        break
            await self._write_isrs(writes)
            now = trio.current_time()
            if now >= next_shrink:
                next_shrink = now + shrink_every
                t_ms = self.lag_clock_ms()
                writes = []
                for p in list(self.partitions.values()):
                    new_isr = p.isr_to_shrink(t_ms, cfg.replica_lag_time_max_ms)
                    if new_isr is not None and new_isr:
                        writes.append((p, new_isr, "shrinking"))
                await self._write_isrs(writes)
            if now >= next_propagation:
                next_propagation = now + cfg.isr_propagation_check_ms / 1000
                await self._maybe_propagate_isr_changes()

    async def _write_isrs(self, writes: list[tuple[Partition, tuple[int, ...], str]]) -> None:
        """ISR writes of different partitions, all at once: the ZooKeeper layer puts many
        into one multi and pipelines the multis, where one round trip after another made a
        broker that led thousands of partitions take a minute to take its followers back
        into their ISRs after a restart.

        Each write is a CAS on the zkVersion the decision was made at. A LeaderAndIsr that
        arrives while the writes are out brings the controller's own (already written)
        zkVersion: our CAS then fails, or won the race and the controller re-reads; either
        way the answer is not applied once the partition moved on (:meth:`_isr_written`)."""
        if self.zk is None:
            return
        started = [(p, new_isr, state) for p, new_isr, what in writes
                   if (state := self._isr_write_begins(p, new_isr, what)) is not None]
        if not started:
            return
        try:
            versions = await self.zk.conditional_update_partition_states(
                {p.tp: (state, p.partition_epoch) for p, _isr, state in started})
        except ZkError as e:
            # Session expired or ZooKeeper unreachable: keep the ISRs we have (a larger ISR
            # only delays the HW) and decide again on the next round.
            log.warning("ISR update of %d partitions failed (%s); will retry", len(started), e)
            return
        finally:
            for p, _isr, _state in started:
                p.isr_update_pending = False
        for p, new_isr, state in started:
            self._isr_written(p, new_isr, state.leader_epoch, versions.get(p.tp))

    def _isr_write_begins(self, p: Partition, new_isr: tuple[int, ...], what: str
                          ) -> LeaderIsrAndControllerEpoch | None:
        """The state to CAS for ``p`` (marked pending), or None if we no longer lead it."""
        if self.partitions.get(p.tp) is not p or not p.is_leader:
            return None
        partition_log.info("[Partition %s broker=%d] %s ISR from %s to %s%s", p.tp, self.broker_id,
                           what.capitalize(), ",".join(map(str, p.isr)),
                           ",".join(map(str, new_isr)), "" if what == "expanding" else (
                               f". Leader: (highWatermark: {p.high_watermark}, endOffset: "
                               f"{p.log_end_offset}). Out of sync replicas: " + " ".join(
                                   f"(brokerId: {r}, endOffset: "
                                   f"{p.followers[r].log_end_offset if r in p.followers else -1})"
                                   for r in p.isr if r not in new_isr) + "."))
        p.isr_update_pending = True
        return LeaderIsrAndControllerEpoch(
            leader=self.broker_id, leader_epoch=p.leader_epoch, isr=new_isr,
            controller_epoch=p.controller_epoch)

    def _isr_written(self, p: Partition, new_isr: tuple[int, ...], epoch: int,
                     version: int | None) -> None:
        """Apply a written ISR (``version`` None: the CAS failed) if we still lead ``p`` at
        the epoch it was written in."""
        if self.partitions.get(p.tp) is not p or not p.is_leader or p.leader_epoch != epoch:
            return  # a LeaderAndIsr arrived meanwhile and decides instead
        if version is None:
            partition_log.info("[Partition %s broker=%d] Cached zkVersion %d not equal to that in "
                               "zookeeper, skip updating ISR", p.tp, self.broker_id,
                               p.partition_epoch)
            return
        partition_log.info("[Partition %s broker=%d] ISR updated to [%s] and zkVersion updated "
                           "to [%d]", p.tp, self.broker_id, ",".join(map(str, new_isr)), version)
        if len(new_isr) < len(p.isr):
            self.isr_shrinks += 1
        else:
            self.isr_expands += 1
        p.apply_isr(new_isr, version)
        self._isr_changed.add(p.tp)
        self._last_isr_change_ms = self.lag_clock_ms()
        self._notify([p.tp])

    async def _maybe_propagate_isr_changes(self) -> None:
        if not self._isr_changed or self.zk is None:
            return
        t = self.lag_clock_ms()
        cfg = self.config
        if t - self._last_isr_change_ms < cfg.isr_propagation_quiet_ms and \
                t - self._last_isr_propagation_ms < cfg.isr_propagation_max_delay_ms:
            return
        changed, self._isr_changed = self._isr_changed, set()
        try:
            await self.zk.post_isr_change_notification(sorted(changed))
        except ZkError as e:
            log.warning("ISR change notification failed (%s); will retry", e)
            self._isr_changed |= changed
            return
        self._last_isr_propagation_ms = t

    # -- produce -------------------------------------------------------------------------

    def _append_one(self, tp: TopicPartition, records: memoryview | None, acks: int,
                    single_batch: bool, allow_zstd: bool,
                    origin: AppendOrigin = AppendOrigin.CLIENT) -> ProduceResult:
        p = self.partitions.get(tp)
        if p is None:
            return ProduceResult(self.missing_partition_error(tp))
        if not p.is_leader:
            return ProduceResult(errors.NotLeaderOrFollower)
        cfg: LogConfig = p.log.config
        if records is None or len(records) == 0:
            return ProduceResult(errors.CorruptMessage, message="empty records")
        headers: list[tuple] = []   # parsed by the validator, handed on to the log
        try:
            batches = validate_batches(records, max_batch_bytes=cfg.max_message_bytes,
                                       require_single_batch=single_batch,
                                       allow_zstd=allow_zstd,
                                       from_coordinator=origin is not AppendOrigin.CLIENT,
                                       headers=headers)
            if "compact" in cfg.cleanup_policy:  # keyless records: only compacted topics look
                validate_compacted_records(batches, tp)
        except KafkaError as e:
            return ProduceResult(type(e), message=str(e), log_start_offset=p.log_start_offset)
        if acks == -1 and len(p.isr) < cfg.min_insync_replicas:
            return ProduceResult(errors.NotEnoughReplicas, log_start_offset=p.log_start_offset,
                                 message=f"The size of the current ISR {set(p.isr)} is "
                                         f"insufficient to satisfy the min.isr requirement of "
                                         f"{cfg.min_insync_replicas} for partition {tp}")
        # Idempotence (KIP-98): a retried batch gets its original offsets, nothing is written.
        # (header fields: [6] lastOffsetDelta, [9] producerId, [10] epoch, [11] baseSequence)
        first = headers[0]
        if first[9] >= 0 and origin is AppendOrigin.CLIENT:
            last_seq = (first[11] + first[6]) % (2**31)
            try:
                dup = p.log.check_duplicate(first[9], first[10], first[11], last_seq)
            except KafkaError as e:
                return ProduceResult(type(e), message=str(e), log_start_offset=p.log_start_offset)
            if dup is not None:
                return ProduceResult(base_offset=dup.first_offset, last_offset=dup.last_offset,
                                     log_start_offset=p.log_start_offset)
        try:
            info = p.log.append_validated_as_leader(
                [b.buffer for b in batches], headers,
                leader_epoch=p.leader_epoch, now_ms=now_ms(),
                log_append_time=cfg.message_timestamp_type == "LogAppendTime",
                origin=origin)
        except OSError as failure:
            # ENOSPC and friends: the log dir goes offline, nothing is acked. The guard is
            # entered only on failure: a generator context manager around every append cost
            # a few µs of each one-record produce.
            try:
                with self.log_dir_guard(tp):
                    raise failure
            except KafkaError as e:
                return ProduceResult(type(e), message=str(e),
                                     log_start_offset=p.log_start_offset)
        except KafkaError as e:  # e.g. RECORD_LIST_TOO_LARGE: batch bigger than a segment
            return ProduceResult(type(e), message=str(e), log_start_offset=p.log_start_offset)
        p.on_local_append()
        return ProduceResult(base_offset=info.first_offset, last_offset=info.last_offset,
                             log_append_time_ms=info.log_append_time_ms,
                             log_start_offset=p.log_start_offset)

    async def append_records(self, entries: Iterable[tuple[TopicPartition, memoryview | None]],
                             *, acks: int, timeout_ms: int, single_batch: bool = True,
                             allow_zstd: bool = True,
                             origin: AppendOrigin = AppendOrigin.CLIENT
                             ) -> dict[TopicPartition, ProduceResult]:
        """Append each partition's batches as leader; ``origin`` COORDINATOR for this broker's
        own transaction markers and transactional offset commits (see producer_state.py)."""
        results, acks_wait = self.append_records_nowait(
            entries, acks=acks, timeout_ms=timeout_ms, single_batch=single_batch,
            allow_zstd=allow_zstd, origin=origin)
        return results if acks_wait is None else await acks_wait.wait()

    def append_records_nowait(self, entries: Iterable[tuple[TopicPartition, memoryview | None]],
                              *, acks: int, timeout_ms: int, single_batch: bool = True,
                              allow_zstd: bool = True,
                              origin: AppendOrigin = AppendOrigin.CLIENT
                              ) -> tuple[dict[TopicPartition, ProduceResult], AcksWait | None]:
        """Append now; with acks=all also an :class:`AcksWait` for the high watermark.

        The split lets the socket server append a connection's next pipelined produce
        request while this one waits for the followers (the appends stay in request order,
        the answers too), so one follower fetch carries several requests' batches."""
        results = {tp: self._append_one(tp, recs, acks, single_batch, allow_zstd, origin)
                   for tp, recs in entries}
        self._notify(results)
        if acks != -1 or UNSAFE_ACKS_FOR_TESTS:
            return results, None
        pending = {tp: r for tp, r in results.items() if r.error is None and r.last_offset >= 0}
        acks_wait = AcksWait(self, results, pending,
                             trio.current_time() + max(timeout_ms, 0) / 1000)
        return results, None if acks_wait.check() else acks_wait

    # -- fetch ---------------------------------------------------------------------------

    def _read_one(self, f: PartitionFetch, *, replica_id: int, budget: int,
                  min_one: bool, read_committed: bool = False) -> FetchResult:
        p = self.partitions.get(f.tp)
        if p is None:
            return FetchResult(self.missing_partition_error(f.tp))
        debugging = replica_id == DEBUGGING_CONSUMER_ID
        if not p.is_leader and not (debugging and p.role is Role.FOLLOWER):
            return FetchResult(errors.NotLeaderOrFollower)
        if f.current_leader_epoch >= 0:
            if f.current_leader_epoch < p.leader_epoch:
                return FetchResult(errors.FencedLeaderEpoch)
            if f.current_leader_epoch > p.leader_epoch:
                return FetchResult(errors.UnknownLeaderEpoch)
        follower = replica_id >= 0
        leo = p.log_end_offset
        hw = p.high_watermark
        # Out of range is judged against the log end for everyone; a consumer between the HW
        # and the log end (e.g. after a leader change, the new leader's HW trails) gets no data
        # yet, not an error.
        lso = p.last_stable_offset
        if f.fetch_offset > leo or f.fetch_offset < p.log_start_offset:
            return FetchResult(errors.OffsetOutOfRange, hw, lso, p.log_start_offset)
        if follower and p.is_leader:
            if p.update_follower(replica_id, f.fetch_offset, self.lag_clock_ms()):
                self._notify([f.tp])
                hw, lso = p.high_watermark, p.last_stable_offset
            if replica_id not in p.isr and replica_id in p.replicas:
                self._expand_candidates.add(f.tp)
                self._isr_work.set()
        max_offset = leo if follower else lso if read_committed else hw
        aborted = () if read_committed else None
        limit = min(f.max_bytes, budget)
        if f.fetch_offset >= max_offset:
            return FetchResult(None, hw, lso, p.log_start_offset, aborted_transactions=aborted)
        try:
            with self.log_dir_guard(f.tp):
                data = p.log.read(f.fetch_offset, limit, max_offset=max_offset,
                                  min_one_batch=min_one)
        except KafkaError as e:
            return FetchResult(type(e), hw, lso, p.log_start_offset)
        if read_committed and data.size:
            # Bounded by the LSO, not by the last batch sent: an entry that starts past the
            # data only costs the consumer a dictionary entry it never uses.
            aborted = tuple((t.producer_id, t.first_offset)
                            for t in p.log.collect_aborted_transactions(f.fetch_offset, lso))
        regions = tuple(PinnedRegion(fd, pos, size, data) for fd, pos, size in data.regions)
        return FetchResult(None, hw, lso, p.log_start_offset, regions, data.size, aborted)

    def read_all(self, fetches: Sequence[PartitionFetch], *, replica_id: int, max_bytes: int,
                 read_committed: bool = False
                 ) -> tuple[dict[TopicPartition, FetchResult], int, bool]:
        results: dict[TopicPartition, FetchResult] = {}
        total = 0
        errored = False
        for f in fetches:
            r = self._read_one(f, replica_id=replica_id, budget=max(max_bytes - total, 0),
                               min_one=total == 0, read_committed=read_committed)
            results[f.tp] = r
            total += r.size
            errored |= r.error is not None
        return results, total, errored

    async def fetch(self, fetches: Sequence[PartitionFetch], *, replica_id: int, max_wait_ms: int,
                    min_bytes: int, max_bytes: int, read_committed: bool = False
                    ) -> dict[TopicPartition, FetchResult]:
        """Read now; if fewer than ``min_bytes`` are available, wait for data or the deadline.
        ``read_committed`` consumers read up to the last stable offset (isolation level 1)."""
        def read():
            return self.read_all(fetches, replica_id=replica_id, max_bytes=max_bytes,
                                 read_committed=read_committed)

        results, total, errored = read()
        if total >= max(min_bytes, 1) or errored or max_wait_ms <= 0 or not fetches:
            return results
        watch = _follower_watch if replica_id >= 0 else _consumer_watch
        self.delayed["Fetch"] += 1
        try:
            with remote_wait(), trio.move_on_after(max_wait_ms / 1000):
                while True:
                    await self._wait_for_change((f.tp for f in fetches), watch)
                    await self._coalesce()
                    results, total, errored = read()
                    if total >= max(min_bytes, 1) or errored:
                        return results
        finally:
            self.delayed["Fetch"] -= 1
        return read()[0]

    # -- lifecycle -----------------------------------------------------------------------

    def leader_partitions(self) -> list[Partition]:
        return [p for p in self.partitions.values() if p.is_leader]
