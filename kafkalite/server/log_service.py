"""The storage engine's background work: retention, time-based rolls, flushes, file deletion.

Kafka's LogManager runs these on a scheduler; here they are tasks of one nursery started by
``Broker._serve`` (``await nursery.start(LogService(self).run)``):

- **retention**, every ``log.retention.check.interval.ms``: for each log, roll an active segment
  that outlived ``segment.ms`` without an append noticing, then apply
  :func:`kafkalite.storage.retention.plan_deletions` (``retention.ms``, ``retention.bytes``,
  segments wholly below the log start offset). Deleted segments are renamed ``*.deleted`` at once
  and unlinked ``file.delete.delay.ms`` later by the deleter task; a fetch that already holds a
  segment's descriptor (``PinnedRegion``) keeps reading it meanwhile and after.
- **flush**: fsync what ``flush.messages`` / ``flush.ms`` (and every roll, as Kafka flushes the
  segment it rolled away from) make due, in ``trio.to_thread`` so the event loop never waits on
  the disk; the recovery point moves only when the fsync has returned. The check runs every
  ``log.flush.scheduler.interval.ms``, but at least every second, every ``flush.ms`` of the
  shortest-flushing topic and every 100 ms while a topic sets ``flush.messages``: the append
  path never blocks on an fsync, so ``flush.messages`` is honoured within that period rather
  than inside the produce request.
- **producer ids**, every ``producer.id.expiration.check.interval.ms``: forget producers idle
  for ``producer.id.expiration.ms`` without an open transaction (Kafka's producer expiry).
- **high watermarks**: lends the replica manager's live high watermarks to
  :attr:`LogManager.high_watermark_source` (the broker's checkpoint timer then writes
  ``replication-offset-checkpoint``), and gives each newly created Partition the high watermark
  its log had at startup, as Kafka initialises a reopened replica from that checkpoint.

All decisions are made synchronously on the event loop between awaits, so a retention pass never
interleaves with an append, a fetch or a DeleteRecords request.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time

import trio

from kafkalite.model import TopicPartition
from kafkalite.storage.config import LogConfig
from kafkalite.storage.log import Log
from kafkalite.storage.retention import DeletionReason, SegmentDeletion, plan_deletions
from kafkalite.storage.segment import LogSegment

__all__ = ["LogService"]

log = logging.getLogger(__name__)

_LONG_MAX = 2**63 - 1
_MAX_FLUSH_CHECK_MS = 1000
# Leader-epoch checkpoints left dirty by new leaderships are written this often, this many
# between two scheduler passes.
_EPOCH_CHECKPOINT_S = 1.0
_EPOCH_CHECKPOINTS_PER_PASS = 200
_FLUSH_MESSAGES_CHECK_MS = 100
_MIN_FLUSH_CHECK_MS = 10
_FLUSH_STEP_SEGMENTS = 16
# Files deleted between two scheduler passes (a whole log's take about 0.15 ms).
_DELETES_PER_PASS = 100


def _now_ms() -> int:
    return int(time.time() * 1000)


def _describe(step: SegmentDeletion, cfg: LogConfig) -> str:
    """Completes "Deleting segments due to ..." in Kafka's words."""
    if step.reason is DeletionReason.RETENTION_MS:
        return f"retention time {cfg.retention_ms}ms breach"
    if step.reason is DeletionReason.RETENTION_BYTES:
        return f"retention size {cfg.retention_bytes} bytes breach"
    return step.reason.value


class LogService:
    """Background storage tasks of one broker (see the module docstring).

    Args:
        broker: the running :class:`~kafkalite.server.broker.Broker`; its ``log_manager`` and
            ``replica_manager`` must exist before :meth:`run` starts.
    """

    def __init__(self, broker):
        self.broker = broker
        cfg = broker.config
        self.retention_check_interval_ms: int = cfg["log.retention.check.interval.ms"]
        self.flush_scheduler_interval_ms: int = cfg["log.flush.scheduler.interval.ms"]
        self.producer_id_expiration_ms: int = cfg["producer.id.expiration.ms"]
        self.producer_id_check_interval_ms: int = cfg["producer.id.expiration.check.interval.ms"]
        # (due on trio's clock, sequence, segment): files renamed *.deleted, not yet unlinked
        self._pending_deletes: list[tuple[float, int, LogSegment]] = []
        self._sequence = itertools.count()
        self._deletes_changed = trio.Event()
        self._adopted: dict[TopicPartition, object] = {}

    @property
    def log_manager(self):
        return self.broker.log_manager

    @property
    def replica_manager(self):
        return self.broker.replica_manager

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.log_manager.high_watermark_source = self.high_watermarks
        self.log_manager.checkpoint()  # every checkpoint file exists from the start on
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._retention_loop)
            nursery.start_soon(self._flush_loop)
            nursery.start_soon(self._deleter_loop)
            nursery.start_soon(self._producer_expiry_loop)
            nursery.start_soon(self._epoch_checkpoint_loop)
            task_status.started(self)

    # -- high watermarks ------------------------------------------------------------------

    def high_watermarks(self) -> dict[TopicPartition, int]:
        """Live high watermarks of the partitions whose log is this broker's."""
        self.adopt_restored_high_watermarks()
        return {tp: p.high_watermark for tp, p in self.replica_manager.partitions.items()
                if self.log_manager.get_log(tp.topic, tp.partition) is p.log}

    def adopt_restored_high_watermarks(self) -> None:
        """Start each new Partition from its log's checkpointed high watermark (once per
        Partition object; the HW only moves forward, and the restored value is <= log end)."""
        for tp, p in self.replica_manager.partitions.items():
            if self._adopted.get(tp) is p:
                continue
            self._adopted[tp] = p
            restored = self.log_manager.restored_high_watermark(tp.topic, tp.partition)
            if restored is not None and restored > p.high_watermark \
                    and restored <= p.log.log_end_offset:
                log.info("%s: restoring high watermark %d from the checkpoint", tp, restored)
                p.high_watermark = restored
        for tp in [tp for tp in self._adopted if tp not in self.replica_manager.partitions]:
            del self._adopted[tp]

    def _high_watermark_of(self, tp: TopicPartition, lg: Log) -> int | None:
        p = self.replica_manager.get_partition(tp)
        if p is not None and p.log is lg:
            return p.high_watermark
        return self.log_manager.restored_high_watermark(tp.topic, tp.partition)

    # -- producer ids ---------------------------------------------------------------------

    async def _producer_expiry_loop(self) -> None:
        while True:
            await trio.sleep(self.producer_id_check_interval_ms / 1000)
            self.expire_producers(_now_ms())

    def expire_producers(self, now_ms: int) -> int:
        """Forget idle producers in every log; returns how many went."""
        expired = 0
        for lg in self.log_manager.logs.values():
            expired += len(lg.remove_expired_producers(now_ms, self.producer_id_expiration_ms))
        return expired

    # -- retention ------------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        while True:
            await trio.sleep(self.retention_check_interval_ms / 1000)
            self.adopt_restored_high_watermarks()
            self.check_retention(_now_ms())

    def check_retention(self, now_ms: int) -> int:
        """One retention pass over every log (Kafka's cleanupLogs). Returns the number of
        segments deleted."""
        deleted = 0
        for tp, lg in self.log_manager.logs.items():
            if self.log_manager.get_log(tp.topic, tp.partition) is not lg:
                continue  # its log dir failed during this pass
            high_watermark = self._high_watermark_of(tp, lg)
            if high_watermark is None:
                continue  # no partition and no checkpoint yet: nothing is known replicated
            try:
                deleted += self._retain(tp, lg, high_watermark, now_ms)
            except OSError as exc:   # a full or failing disk: the log dir goes offline
                self._fail_dir_of(tp, exc)
        return deleted

    def _retain(self, tp: TopicPartition, lg: Log, high_watermark: int, now_ms: int) -> int:
        deleted = 0
        if lg.roll_if_idle(now_ms):
            log.info("%s: rolled segment older than segment.ms %d", tp, lg.config.segment_ms)
        cfg = lg.config
        plan = plan_deletions(
            lg.segments, log_end_offset=lg.log_end_offset, high_watermark=high_watermark,
            log_start_offset=lg.log_start_offset, retention_ms=cfg.retention_ms,
            retention_bytes=cfg.retention_bytes,
            delete_enabled="delete" in cfg.cleanup_policy.split(","), now_ms=now_ms)
        for step in plan:
            removed = lg.delete_segments(step.base_offsets, reason=_describe(step, cfg))
            self._schedule_delete(removed, self._file_delete_delay_ms(tp, lg))
            deleted += len(removed)
        return deleted

    def _fail_dir_of(self, tp: TopicPartition, exc: OSError) -> None:
        log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
        if log_dir is not None:
            self.log_manager.fail_log_dir(log_dir, exc)

    def _file_delete_delay_ms(self, tp: TopicPartition, lg: Log) -> int:
        """``file.delete.delay.ms`` of the topic: read through the broker's topic config values,
        because not every broker builds it into the LogConfig."""
        values = self.broker.topic_config_values(tp.topic)
        try:
            return int(values.get("file.delete.delay.ms", lg.config.file_delete_delay_ms))
        except (TypeError, ValueError):
            return lg.config.file_delete_delay_ms

    # -- delayed file deletion ------------------------------------------------------------

    def _schedule_delete(self, segments: list[LogSegment], delay_ms: int) -> None:
        due = trio.current_time() + max(delay_ms, 0) / 1000
        for segment in segments:
            heapq.heappush(self._pending_deletes, (due, next(self._sequence), segment))
        self._deletes_changed.set()

    def schedule_log_deletion(self, logs: list[Log]) -> None:
        """Remove the files of logs a StopReplica staged for deletion (renamed ``*-delete``,
        see ``LogManager.stage_deletions``) ``file.delete.delay.ms`` later, as Kafka's
        LogManager deletes the logs of deleted topics; a restart meanwhile removes them at
        start-up."""
        for lg in logs:
            due = trio.current_time() + max(lg.config.file_delete_delay_ms, 0) / 1000
            heapq.heappush(self._pending_deletes, (due, next(self._sequence), lg))
        self._deletes_changed.set()

    async def _deleter_loop(self) -> None:
        while True:
            now = trio.current_time()
            done = 0
            while self._pending_deletes and self._pending_deletes[0][0] <= now:
                _, _, item = heapq.heappop(self._pending_deletes)
                try:
                    if isinstance(item, Log):
                        self.log_manager.delete_staged(item)
                    else:
                        item.delete()
                        log.info("Deleted log segment %s and its indexes", item.log_path)
                except OSError as exc:   # the next start removes what is left
                    log.warning("Could not delete %s: %s", getattr(item, "dir", None)
                                or getattr(item, "log_path", None), exc)
                done += 1
                if done % _DELETES_PER_PASS == 0:   # a deleted topic's thousands of logs
                    await trio.lowlevel.checkpoint()
            self._deletes_changed = trio.Event()
            if self._pending_deletes:
                with trio.move_on_at(self._pending_deletes[0][0]):
                    await self._deletes_changed.wait()
            else:
                await self._deletes_changed.wait()

    # -- leader-epoch checkpoints --------------------------------------------------------

    async def _epoch_checkpoint_loop(self) -> None:
        while True:
            await trio.sleep(_EPOCH_CHECKPOINT_S)
            await self.write_dirty_epoch_checkpoints()

    async def write_dirty_epoch_checkpoints(self) -> int:
        """Write the leader-epoch checkpoints that new leaderships left dirty (see
        ``Log.assign_epoch_start_offset``), letting other tasks run every few hundred files:
        after a failover there are thousands. Returns how many were written."""
        written = 0
        for tp, lg in list(self.log_manager.logs.items()):
            try:
                if not lg.write_dirty_epoch_checkpoint():
                    continue
            except OSError as exc:   # the log dir failed (ENOSPC, EIO): it goes offline
                if self.log_manager.get_log(tp.topic, tp.partition) is lg:
                    self._fail_dir_of(tp, exc)
                continue
            written += 1
            if written % _EPOCH_CHECKPOINTS_PER_PASS == 0:
                await trio.lowlevel.checkpoint()
        return written

    # -- flush ----------------------------------------------------------------------------

    def _flush_check_ms(self) -> int:
        period = min(self.flush_scheduler_interval_ms, _MAX_FLUSH_CHECK_MS)
        for lg in self.log_manager.logs.values():
            cfg = lg.config
            if cfg.flush_interval_ms is not None and cfg.flush_interval_ms < period:
                period = cfg.flush_interval_ms
            if cfg.flush_interval_messages < _LONG_MAX:
                period = min(period, _FLUSH_MESSAGES_CHECK_MS)
        return max(period, _MIN_FLUSH_CHECK_MS)

    async def _flush_loop(self) -> None:
        while True:
            await trio.sleep(self._flush_check_ms() / 1000)
            self.adopt_restored_high_watermarks()
            await self.flush_due_logs(_now_ms())

    async def flush_due_logs(self, now_ms: int) -> int:
        """fsync every log whose flush is due, each in a worker thread. Returns how many."""
        flushed = 0
        for tp, lg in self.log_manager.logs.items():
            if self.log_manager.get_log(tp.topic, tp.partition) is not lg:
                continue  # deleted while an earlier log was being flushed
            up_to = lg.flush_due(now_ms)
            if up_to is None:
                continue
            flushed += 1
            # In steps of a few segments: the recovery point advances as it goes, and a
            # shutdown never waits for more than one step.
            try:
                while (job := lg.begin_flush(up_to,
                                             max_segments=_FLUSH_STEP_SEGMENTS)) is not None:
                    await trio.to_thread.run_sync(job.run)
                    before = lg.recovery_point
                    lg.complete_flush(job, now_ms=now_ms)
                    if self.log_manager.get_log(tp.topic, tp.partition) is not lg \
                            or lg.recovery_point <= before:
                        break
            except OSError as exc:   # fsync failed (EIO, ENOSPC): the log dir goes offline
                if self.log_manager.get_log(tp.topic, tp.partition) is lg:
                    self._fail_dir_of(tp, exc)
        return flushed
