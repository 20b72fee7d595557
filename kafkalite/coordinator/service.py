"""The group coordinator's trio shell: runs :class:`GroupCoordinator` and carries out its effects.

What it does for the pure machine (``machine.py``):

- **Requests.** Each public coroutine calls the machine with ``now_ms`` and applies the
  returned effects; a parked request (JoinGroup during a rebalance, SyncGroup waiting for the
  leader, a commit waiting for its record) waits on a slot that a later :class:`Reply` fills.
- **Appends.** Records go to ``__consumer_offsets`` through the ordinary log path
  (``ReplicaManager.append_records_nowait``, acks=-1: done once the high watermark passed
  them). Each append is written to the log synchronously when its effect is applied, so the
  log holds the group's history in the order the machine asked for it. When the high
  watermark is already past it (a single in-sync replica) the machine learns so before
  ``_apply`` returns, and the request that caused it is answered in its own task without
  ever parking; otherwise a task waits for the followers. Completions are handed to the
  machine only after the effects list that wrote them is fully applied, as if they came
  later (they may cancel a timer that list sets).
- **Timers.** Session, rebalance and expiry deadlines live in one heap served by one task,
  which is woken only when a new deadline is earlier than the one it sleeps until.
- **Leadership.** ``ReplicaManager.leadership_listeners`` tell us when this broker gains or
  loses leadership of an offsets partition; gaining it replays the partition's log into the
  machine (requests for its groups get COORDINATOR_LOAD_IN_PROGRESS meanwhile), losing it
  drops the groups.

Public API (what handlers and tools may rely on): :meth:`partition_for`,
:meth:`coordinator_error`, :meth:`join_group`, :meth:`sync_group`, :meth:`heartbeat`,
:meth:`leave_group`, :meth:`commit_offsets`, :meth:`txn_commit_offsets`,
:meth:`complete_transaction`, :meth:`fetch_offsets`, :meth:`describe_group`,
:meth:`list_groups`, :meth:`delete_groups`, :meth:`delete_offsets`, :meth:`wait_loaded`, and
the ``started`` event. Arguments and answers are the version-free values of ``results.py``.
"""

from __future__ import annotations

import collections
import heapq
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite.coordinator.group_state import GroupState
from kafkalite.coordinator.machine import GroupConfig, GroupCoordinator
from kafkalite.coordinator.offsets_batch import offsets_batch
from kafkalite.coordinator.results import (
    Append, CancelTimer, ErrorType, GroupDescription, JoinGroupArgs, JoinResult, LeaveResult,
    ListGroupsResult, OffsetCommitEntry, OffsetDeleteResult, OffsetFetchResult, Reply, Result,
    SetTimer, SyncResult)
from kafkalite.coordinator.shell import (
    ParkedRequests, PartitionLoads, existing_partition_count, replay_log)
from kafkalite.errors import KafkaError, TopicAlreadyExists
from kafkalite.model import OFFSETS_TOPIC, TopicPartition
from kafkalite.records.batch import MAGIC_V2, RecordBatchView, iter_log_entries
from kafkalite.records.control import ControlType, parse_control_record
from kafkalite.records.legacy import decode_legacy_entry
from kafkalite.records.record import decode_records
from kafkalite.replication.service import now_ms
from kafkalite.storage.producer_state import AppendOrigin

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["GroupCoordinatorService", "group_config"]

log = logging.getLogger(__name__)



def _setting(cfg, key: str, default: int) -> int:
    """A broker setting, also when it is not in the typed config table (then from the raw
    properties)."""
    value = cfg.get(key)
    if value is None:
        raw = getattr(cfg, "originals", {}).get(key)
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            log.warning("ignoring invalid %s=%r", key, raw)
            value = default
    return int(value)


def group_config(cfg) -> GroupConfig:
    """The coordinator's settings from ``server.properties`` (Kafka's keys and defaults)."""
    return GroupConfig(
        num_partitions=_setting(cfg, "offsets.topic.num.partitions", 50),
        min_session_timeout_ms=_setting(cfg, "group.min.session.timeout.ms", 6000),
        max_session_timeout_ms=_setting(cfg, "group.max.session.timeout.ms", 1800000),
        initial_rebalance_delay_ms=_setting(cfg, "group.initial.rebalance.delay.ms", 3000),
        max_size=_setting(cfg, "group.max.size", 2**31 - 1),
        offset_metadata_max_bytes=_setting(cfg, "offset.metadata.max.bytes", 4096),
        offsets_retention_ms=_setting(cfg, "offsets.retention.minutes", 10080) * 60_000,
        offsets_retention_check_interval_ms=_setting(
            cfg, "offsets.retention.check.interval.ms", 600000))


class GroupCoordinatorService:
    """Runs the group coordinator of one broker. Start with ``await nursery.start(svc.run)``.

    Args:
        broker: the :class:`~kafkalite.server.broker.Broker`; ``replica_manager``, ``zk`` and
            ``config`` are read when :meth:`run` starts.
        clock: wall-clock milliseconds (tests pass trio's clock to run on a MockClock).
    """

    def __init__(self, broker: "Broker", *, clock: Callable[[], int] = now_ms):
        self.broker = broker
        self.clock = clock
        self.machine = GroupCoordinator(group_config(broker.config),
                                        new_uuid=lambda: str(uuid.uuid4()))
        self.commit_timeout_ms = _setting(broker.config, "offsets.commit.timeout.ms", 5000)
        self.started = trio.Event()
        self._creating_topic = False
        self._nursery: trio.Nursery | None = None
        self._parked = ParkedRequests()
        # timers: key -> deadline, plus a heap of (deadline, seq, key) with lazy deletion
        self._timers: dict[tuple, int] = {}
        self._heap: list[tuple[int, int, tuple]] = []
        self._timer_seq = 0
        self._timers_changed = trio.Event()
        # the deadline the timer task sleeps until (inf: no timer; -inf: it is not asleep)
        self._timer_wake_ms = -math.inf
        # appends already written whose completion the machine has not been told yet
        self._completed: collections.deque[tuple[Append, ErrorType, int]] = collections.deque()
        self._draining = False
        # Offsets partitions this broker leads. A term is a stretch of uninterrupted leadership
        # (epoch bumps while staying leader keep it); losing the leadership ends it, so
        # leading again means replaying the log again.
        self._loads = PartitionLoads(
            OFFSETS_TOPIC, epoch_sensitive=False,
            begin=lambda partition, term, _epoch: self._apply(
                self.machine.begin_load(partition, term)),
            unload=self._unload, load=self._load)

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        rm = self.broker.replica_manager
        count = await existing_partition_count(self.broker.zk, OFFSETS_TOPIC)
        if count is not None:
            self.machine.config = attrs.evolve(self.machine.config, num_partitions=count)
        rm.leadership_listeners.append(self._loads.on_leadership_change)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._timer_loop)
                nursery.start_soon(self._loads.run, nursery)
                self._apply(self.machine.start(now_ms=self.clock()))
                for p in rm.leader_partitions():
                    self._loads.on_leadership_change(p.tp, True, p.leader_epoch)
                self.started.set()
                task_status.started(self)
        finally:
            rm.leadership_listeners.remove(self._loads.on_leadership_change)
            self._nursery = None

    @property
    def num_partitions(self) -> int:
        return self.machine.config.num_partitions

    def partition_for(self, group_id: str) -> int:
        """The ``__consumer_offsets`` partition whose leader coordinates ``group_id``."""
        return self.machine.partition_for(group_id)

    def coordinator_error(self, group_id: str | None) -> ErrorType:
        return self.machine.coordinator_error(group_id)

    async def ensure_offsets_topic(self) -> None:
        """Create ``__consumer_offsets`` (first FindCoordinator), as Kafka does on demand.

        Partitions ``offsets.topic.num.partitions``, replication factor
        ``offsets.topic.replication.factor`` (not created while fewer brokers are alive),
        compacted, ``segment.bytes`` = ``offsets.topic.segment.bytes``, compression as produced.
        Concurrent callers return at once; all of them answer COORDINATOR_NOT_AVAILABLE.
        """
        from kafkalite.server.topic_admin import create_topic

        if self._creating_topic:
            return
        broker = self.broker
        self._creating_topic = True
        try:
            rf = _setting(broker.config, "offsets.topic.replication.factor", 3)
            live = len(broker.metadata.brokers) or len(await broker.zk.get_all_brokers())
            if live < rf:
                log.warning("cannot create %s yet: %d live broker(s), "
                            "offsets.topic.replication.factor is %d", OFFSETS_TOPIC, live, rf)
                return
            configs = {"cleanup.policy": "compact", "compression.type": "producer",
                       "segment.bytes": str(_setting(broker.config, "offsets.topic.segment.bytes",
                                                     104857600))}
            try:
                await create_topic(broker, OFFSETS_TOPIC, num_partitions=self.num_partitions,
                                   replication_factor=rf, configs=configs)
                log.info("created %s with %d partitions (replication factor %d)", OFFSETS_TOPIC,
                         self.num_partitions, rf)
            except KafkaError as e:
                if not isinstance(e, TopicAlreadyExists):
                    log.warning("creating %s failed: %s", OFFSETS_TOPIC, e)
        finally:
            self._creating_topic = False

    async def wait_loaded(self, partition: int) -> None:
        """Wait until this broker coordinates the groups of ``partition`` (tests, tools)."""
        while partition not in self.machine.owned:
            await self._loads.loaded_changed.wait()

    # -- requests ------------------------------------------------------------------------

    async def join_group(self, args: JoinGroupArgs) -> JoinResult:
        return await self._complete(self.machine.join_group(args, now_ms=self.clock()))

    async def sync_group(self, group_id: str, generation_id: int, member_id: str, *,
                         group_instance_id: str | None = None, protocol_type: str | None = None,
                         protocol_name: str | None = None,
                         assignments: Mapping[str, bytes] | None = None) -> SyncResult:
        return await self._complete(self.machine.sync_group(
            group_id, generation_id, member_id, group_instance_id=group_instance_id,
            protocol_type=protocol_type, protocol_name=protocol_name, assignments=assignments,
            now_ms=self.clock()))

    async def heartbeat(self, group_id: str, generation_id: int, member_id: str, *,
                        group_instance_id: str | None = None) -> ErrorType:
        result = self.machine.heartbeat(group_id, generation_id, member_id,
                                        group_instance_id=group_instance_id,
                                        now_ms=self.clock())
        if result.park is not None or result.effects:   # (a heartbeat never parks)
            return await self._complete(result)
        return result.response

    async def leave_group(self, group_id: str,
                          members: Iterable[tuple[str, str | None]]) -> LeaveResult:
        return await self._complete(self.machine.leave_group(group_id, members,
                                                             now_ms=self.clock()))

    async def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                             offsets: Mapping[TopicPartition, OffsetCommitEntry], *,
                             group_instance_id: str | None = None
                             ) -> dict[TopicPartition, ErrorType]:
        """Store offsets; answered once their records are committed to the log."""
        return await self._parked.complete(self.machine.commit_offsets(
            group_id, generation_id, member_id, offsets, group_instance_id=group_instance_id,
            now_ms=self.clock()), self._apply)

    async def txn_commit_offsets(self, group_id: str, producer_id: int, producer_epoch: int,
                                 offsets: Mapping[TopicPartition, OffsetCommitEntry], *,
                                 generation_id: int = -1, member_id: str = "",
                                 group_instance_id: str | None = None
                                 ) -> dict[TopicPartition, ErrorType]:
        """TxnOffsetCommit: answered once the producer's transactional batch is written; the
        offsets count when its COMMIT marker arrives (:meth:`complete_transaction`)."""
        return await self._complete(self.machine.txn_commit_offsets(
            group_id, producer_id, producer_epoch, offsets, generation_id=generation_id,
            member_id=member_id, group_instance_id=group_instance_id, now_ms=self.clock()))

    def complete_transaction(self, producer_id: int, partitions: Iterable[int], *,
                             committed: bool) -> None:
        """A transaction marker of ``producer_id`` was written to these offsets partitions."""
        self.machine.complete_transaction(producer_id, partitions, committed=committed)

    def fetch_offsets(self, group_id: str, partitions: Iterable[TopicPartition] | None, *,
                      require_stable: bool = False) -> OffsetFetchResult:
        return self.machine.fetch_offsets(group_id, partitions, require_stable=require_stable)

    def describe_group(self, group_id: str) -> GroupDescription:
        return self.machine.describe_group(group_id)

    def list_groups(self, states: Iterable[GroupState] = ()) -> ListGroupsResult:
        return self.machine.list_groups(states)

    async def delete_groups(self, group_ids: Iterable[str]) -> dict[str, ErrorType]:
        return await self._complete(self.machine.delete_groups(group_ids, now_ms=self.clock()))

    async def delete_offsets(self, group_id: str, partitions: Iterable[TopicPartition]
                             ) -> OffsetDeleteResult:
        return await self._complete(self.machine.delete_offsets(group_id, partitions,
                                                                now_ms=self.clock()))

    def handle_deleted_topics(self, topics: Iterable[str]) -> None:
        """Topics left this broker's metadata (UpdateMetadata with leader -2): forget every
        group's committed offsets of them (Kafka's ``handleDeletedPartitions``)."""
        if self._nursery is None or not topics:
            return   # not running: loading replays the log, where nothing was deleted yet
        self._apply(self.machine.handle_deleted_topics(topics, now_ms=self.clock()))

    # -- effects -------------------------------------------------------------------------

    async def _complete(self, result: Result) -> Any:
        return await self._parked.complete(result, self._apply)

    def _apply(self, result: Result) -> None:
        for effect in result.effects:
            kind = type(effect)
            if kind is Reply:
                self._parked.reply(effect.token, effect.response)
            elif kind is SetTimer:
                self._set_timer(effect.key, effect.at_ms)
            elif kind is CancelTimer:
                self._timers.pop(effect.key, None)
            elif kind is Append:
                self._write(effect)
        if self._completed and not self._draining:
            self._draining = True
            try:
                completed = self._completed
                while completed:
                    append, error, base_offset = completed.popleft()
                    self._apply(self.machine.append_completed(append, error, base_offset,
                                                              now_ms=self.clock()))
            finally:
                self._draining = False

    def _write(self, append: Append) -> None:
        """Write ``append`` to the log now; its completion is queued for :meth:`_apply` at
        once when the high watermark already passed it, else when a waiter task sees it."""
        if self._nursery is None:
            raise RuntimeError("group coordinator is not running")
        tp = TopicPartition(OFFSETS_TOPIC, append.partition)
        ts = self.clock()
        if append.producer is None:
            batch = offsets_batch(append.records, ts)
        else:  # a transactional offset commit: the producer's batch, as Kafka writes it
            batch = offsets_batch(append.records, ts, producer_id=append.producer[0],
                                  producer_epoch=append.producer[1], transactional=True)
        try:
            results, acks_wait = self.broker.replica_manager.append_records_nowait(
                [(tp, memoryview(batch))], acks=-1, timeout_ms=self.commit_timeout_ms,
                origin=AppendOrigin.COORDINATOR)
        except KafkaError as e:
            self._append_done(append, tp, type(e), -1)
            return
        if acks_wait is None:
            r = results[tp]
            self._append_done(append, tp, r.error, r.base_offset)
        else:
            self._nursery.start_soon(self._await_acks, append, tp, acks_wait)

    async def _await_acks(self, append: Append, tp: TopicPartition, acks_wait) -> None:
        try:
            r = (await acks_wait.wait())[tp]
            error, base_offset = r.error, r.base_offset
        except KafkaError as e:
            error, base_offset = type(e), -1
        self._append_done(append, tp, error, base_offset)
        self._apply(Result())   # hand the completion to the machine

    def _append_done(self, append: Append, tp: TopicPartition, error: ErrorType,
                     base_offset: int) -> None:
        if error is not None:
            log.warning("append of %d record(s) to %s failed: %s", len(append.records), tp,
                        error.__name__)
        self._completed.append((append, error, base_offset))

    # -- timers --------------------------------------------------------------------------

    def _set_timer(self, key: tuple, at_ms: int) -> None:
        self._timers[key] = at_ms
        self._timer_seq += 1
        heapq.heappush(self._heap, (at_ms, self._timer_seq, key))
        if at_ms < self._timer_wake_ms:
            self._timers_changed.set()

    async def _timer_loop(self) -> None:
        heap, timers = self._heap, self._timers
        while True:
            while heap and timers.get(heap[0][2]) != heap[0][0]:
                heapq.heappop(heap)  # cancelled or replaced
            self._timers_changed = trio.Event()
            if not heap:
                self._timer_wake_ms = math.inf
                await self._timers_changed.wait()
                self._timer_wake_ms = -math.inf
                continue
            at_ms, _, key = heap[0]
            wait_ms = at_ms - self.clock()
            if wait_ms > 0:
                self._timer_wake_ms = at_ms
                with trio.move_on_after(wait_ms / 1000):
                    await self._timers_changed.wait()
                self._timer_wake_ms = -math.inf
                continue
            heapq.heappop(heap)
            del timers[key]
            self._apply(self.machine.on_timer(key, now_ms=self.clock()))
            await trio.lowlevel.checkpoint()

    # -- leadership ----------------------------------------------------------------------

    def _unload(self, partition: int) -> None:
        self._apply(self.machine.unload(partition))
        log.info("[GroupMetadataManager brokerId=%d] Finished unloading %s-%d",
                 self.broker.broker_id, OFFSETS_TOPIC, partition)

    async def _load(self, partition: int, load_id: int, _epoch: int,
                    scope: trio.CancelScope) -> None:
        """Replay ``__consumer_offsets-<partition>`` from its log start to its log end."""
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        with scope:
            start = trio.current_time()
            stopped = await replay_log(
                self.broker.replica_manager, tp,
                lambda buf: _replay_chunk(self.machine, partition, load_id, buf))
            if stopped == "not leader":
                return  # leadership went away; the leadership change that follows unloads
            if stopped is not None:
                log.error("%s: %s; loading what was read", tp, stopped)
            stats = self.machine.load_stats(partition)
            self._apply(self.machine.complete_load(partition, load_id, now_ms=self.clock()))
            self._loads.loaded(partition, scope)
            if stats is not None:
                log.info("[GroupMetadataManager brokerId=%d] Finished loading offsets and group "
                         "metadata from %s in %d milliseconds (%d groups, %d offsets%s)",
                         self.broker.broker_id, tp, (trio.current_time() - start) * 1000,
                         stats[0], stats[1],
                         f", {stats[2]} unreadable records skipped" if stats[2] else "")


def _replay_chunk(machine: GroupCoordinator, partition: int, load_id: int, buf: bytes) -> int:
    """Replay the whole entries in ``buf`` into the machine, in log order; returns the offset
    after the last one. Transactional batches and their markers go to the machine's
    transactional replay (their offsets count only after a COMMIT marker)."""
    records: list[tuple[int, bytes | None, bytes | None]] = []
    next_offset = -1

    def flush() -> None:
        if records:
            machine.load_records(partition, load_id, records)
            records.clear()

    for _pos, magic, entry in iter_log_entries(memoryview(buf)):
        if magic == MAGIC_V2:
            view = RecordBatchView(entry)
            next_offset = view.last_offset + 1
            if view.is_control:
                flush()
                for record in decode_records(view):
                    marker = parse_control_record(record)
                    if marker.type in (ControlType.COMMIT, ControlType.ABORT):
                        machine.load_txn_marker(partition, load_id, view.producer_id,
                                                marker.type == ControlType.COMMIT)
            elif view.is_transactional:
                flush()
                machine.load_txn_records(partition, load_id, view.producer_id,
                                         [(r.offset, r.key, r.value)
                                          for r in decode_records(view)])
            else:
                records.extend((r.offset, r.key, r.value) for r in decode_records(view))
        else:
            legacy = decode_legacy_entry(entry)
            if legacy:
                next_offset = legacy[-1].offset + 1
            records.extend((r.offset, r.key, r.value) for r in legacy)
    flush()
    return next_offset
