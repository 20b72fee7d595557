"""The log cleaner's trio shell (Kafka's ``LogCleaner`` thread, one of them).

Each round: on the event loop, measure every compacted log and pick the dirtiest one
(:func:`~kafkalite.storage.cleaner.examine_log`, :func:`choose_log_to_clean`); snapshot it into
a :class:`~kafkalite.storage.cleaner.CleaningJob`, which pins the closed segments' descriptors;
run the job in ``trio.to_thread`` (all record reading, filtering, compression and writing of the
cleaned segments happens there, so produce and fetch never wait on it); back on the loop, swap
the cleaned segments in and move the log's entry of ``cleaner-offset-checkpoint`` (Kafka's text
format, one file per log dir, written in a thread too). When no log needs cleaning the service
sleeps ``log.cleaner.backoff.ms``, as Kafka's cleaner thread does.

Cancellation (broker shutdown) aborts a running job: a helper task flags it, the worker notices
at its next batch and removes its partial files, and the nursery ends only after the thread has,
so the log manager never closes a log under it.

A log whose data cannot be cleaned (corrupt batch, I/O error) is logged and left alone until the
broker restarts (Kafka's "uncleanable partitions"); any other exception is a bug and propagates.
Beyond Kafka, the service remembers the earliest tombstone delete horizon a round left pending
and re-cleans that log once it passes, so tombstones also vanish from quiet logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import trio

from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.storage.checkpoint import CorruptCheckpoint, read_checkpoint, write_checkpoint
from kafkalite.storage.cleaner import (
    CLEANER_OFFSET_CHECKPOINT, CleanerConfig, CleaningAborted, CleaningJob, CleaningResult,
    LogToClean, choose_log_to_clean, discard_cleaned_segments, examine_log, is_compacted,
    offset_map_capacity, swap_in_cleaned_segments,
)
from kafkalite.storage.manager import LogManager

__all__ = ["LogCleanerService"]

log = logging.getLogger(__name__)

_DEDUPE_BUFFER_DEFAULT = 128 * 1024 * 1024


def _now_ms() -> int:
    return int(time.time() * 1000)


class LogCleanerService:
    """Compacts the broker's compacted logs in the background (see the module docstring).

    Args:
        log_manager: the broker's logs.
        config_for_topic: topic -> :class:`CleanerConfig` (topic overrides over broker defaults).
        last_stable_offset: the offset below which a partition's data is committed (its high
            watermark), None when this broker does not host the partition yet.
        backoff_ms: sleep between rounds that found nothing to clean (log.cleaner.backoff.ms).
        enabled: log.cleaner.enable; a disabled cleaner only starts and waits.
        offset_map_capacity: keys one round may map (from log.cleaner.dedupe.buffer.size).
        clock: wall-clock milliseconds (tests may pass their own).
    """

    def __init__(self, *, log_manager: LogManager,
                 config_for_topic: Callable[[str], CleanerConfig],
                 last_stable_offset: Callable[[TopicPartition], int | None],
                 backoff_ms: int = 15_000, enabled: bool = True,
                 offset_map_capacity: int = offset_map_capacity(_DEDUPE_BUFFER_DEFAULT),
                 clock: Callable[[], int] = _now_ms):
        self.log_manager = log_manager
        self.config_for_topic = config_for_topic
        self.last_stable_offset = last_stable_offset
        self.backoff_ms = backoff_ms
        self.enabled = enabled
        self.offset_map_capacity = offset_map_capacity
        self.clock = clock
        self.checkpoints: dict[Path, dict[tuple[str, int], int]] = {}
        self._uncleanable: dict[TopicPartition, object] = {}
        self._horizons: dict[TopicPartition, tuple[object, int]] = {}

    @classmethod
    def from_broker(cls, broker) -> LogCleanerService:
        """Wire the service to a running :class:`~kafkalite.server.broker.Broker`."""
        cfg = broker.config

        def last_stable_offset(tp: TopicPartition) -> int | None:
            partition = broker.replica_manager.get_partition(tp)
            return None if partition is None else partition.high_watermark

        return cls(
            log_manager=broker.log_manager,
            config_for_topic=lambda topic: CleanerConfig.from_topic_configs(
                broker.topic_config_values(topic)),
            last_stable_offset=last_stable_offset,
            backoff_ms=cfg.get("log.cleaner.backoff.ms", 15_000),
            enabled=cfg.get("log.cleaner.enable", True),
            offset_map_capacity=offset_map_capacity(
                cfg.get("log.cleaner.dedupe.buffer.size", _DEDUPE_BUFFER_DEFAULT),
                threads=cfg.get("log.cleaner.threads", 1)))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.load_checkpoints()
        task_status.started()
        if not self.enabled:
            await trio.sleep_forever()
        log.info("Starting the log cleaner")
        while True:
            if not await self.clean_filthiest_log():
                await trio.sleep(self.backoff_ms / 1000)

    # -- checkpoints ----------------------------------------------------------------------------

    def load_checkpoints(self) -> None:
        for log_dir in self.log_manager.log_dirs:
            path = Path(log_dir) / CLEANER_OFFSET_CHECKPOINT
            try:
                self.checkpoints[Path(log_dir)] = dict(read_checkpoint(path))
            except CorruptCheckpoint as exc:
                log.warning("Ignoring %s (%s): compacted logs are cleaned from their start",
                            path, exc)
                self.checkpoints[Path(log_dir)] = {}

    def last_clean_offset(self, tp: TopicPartition) -> int | None:
        log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
        if log_dir is None:
            return None
        return self.checkpoints.get(Path(log_dir), {}).get((tp.topic, tp.partition))

    async def update_checkpoint(self, tp: TopicPartition, offset: int) -> None:
        """Record ``offset`` for ``tp`` and rewrite its log dir's file (entries of logs that no
        longer exist are dropped, as Kafka's updateCheckpoints does)."""
        log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
        if log_dir is None:
            return
        log_dir = Path(log_dir)
        present = {(t.topic, t.partition) for t in self.log_manager.logs
                   if self.log_manager.log_dir_of(t.topic, t.partition) == log_dir}
        entries = {k: v for k, v in self.checkpoints.get(log_dir, {}).items() if k in present}
        entries[(tp.topic, tp.partition)] = offset
        self.checkpoints[log_dir] = entries
        await trio.to_thread.run_sync(write_checkpoint, log_dir / CLEANER_OFFSET_CHECKPOINT,
                                      dict(entries))

    # -- one round ------------------------------------------------------------------------------

    def grab_filthiest_log(self, now_ms: int) -> LogToClean | None:
        """Measure every compacted log and return the one to clean now (Kafka's
        grabFilthiestCompactedLog), None when none qualifies."""
        candidates = []
        for tp, lg in self.log_manager.logs.items():
            if not is_compacted(lg.config.cleanup_policy) or self._uncleanable.get(tp) is lg:
                continue
            lso = self.last_stable_offset(tp)
            if lso is None:
                continue
            horizon = self._horizons.get(tp)
            candidate = examine_log(
                lg, last_clean_offset=self.last_clean_offset(tp), last_stable_offset=lso,
                now_ms=now_ms, config=self.config_for_topic(tp.topic),
                pending_horizon_ms=horizon[1] if horizon and horizon[0] is lg else None)
            if candidate.force_update_checkpoint:
                log.warning("Resetting first dirty offset of %s to log start offset %d since "
                            "the checkpointed offset %s is invalid.", tp,
                            candidate.first_dirty_offset, self.last_clean_offset(tp))
                log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
                self.checkpoints.setdefault(Path(log_dir), {})[(tp.topic, tp.partition)] = \
                    candidate.first_dirty_offset
            candidates.append(candidate)
        return choose_log_to_clean(candidates)

    async def clean_filthiest_log(self) -> bool:
        """Clean the dirtiest log once. Returns False when no log needed cleaning."""
        now = self.clock()
        chosen = self.grab_filthiest_log(now)
        if chosen is None:
            return False
        lg = chosen.log
        tp = lg.topic_partition
        job = CleaningJob(chosen, now_ms=now, offset_map_capacity=self.offset_map_capacity)
        log.info("Cleaner 0: Beginning cleaning of log %s (dirty ratio %.3f, first dirty offset "
                 "%d, first uncleanable offset %d).", tp, chosen.cleanable_ratio,
                 chosen.first_dirty_offset, chosen.first_uncleanable_offset)
        try:
            result = await self._run_job(job)
        except (KafkaError, OSError) as exc:
            log_dir = self.log_manager.log_dir_of(tp.topic, tp.partition)
            if isinstance(exc, OSError) and log_dir is not None and \
                    self.log_manager.get_log(tp.topic, tp.partition) is lg:
                self.log_manager.fail_log_dir(log_dir, exc)   # e.g. a full disk: Kafka's rule
                return True
            if self.log_manager.get_log(tp.topic, tp.partition) is lg:
                log.warning("[kafka-log-cleaner-thread-0]: Unexpected exception thrown when "
                            "cleaning log %s. Marking its partition (%s) as uncleanable: %s",
                            tp, tp, exc)
                self._uncleanable[tp] = lg
            return True
        if self.log_manager.get_log(tp.topic, tp.partition) is not lg:
            discard_cleaned_segments(result.groups)
            return True
        if not swap_in_cleaned_segments(lg, result):
            return True
        self._remember_horizon(tp, lg, result)
        await self.update_checkpoint(tp, result.end_offset)
        log.info("[kafka-log-cleaner-thread-0]: Log cleaner thread 0 cleaned log %s (dirty "
                 "section = [%d, %d]): %d of %d records kept, %d of %d bytes written, %d segment "
                 "group(s) replaced", tp, chosen.first_dirty_offset, result.end_offset,
                 result.records_retained, result.records_read, result.bytes_written,
                 result.bytes_read, sum(g.changed for g in result.groups))
        return True

    async def _run_job(self, job: CleaningJob) -> CleaningResult:
        """Run ``job`` in a worker thread; a cancellation aborts it, then waits for the thread."""

        async def abort_when_cancelled() -> None:
            try:
                await trio.sleep_forever()
            finally:
                job.abort()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(abort_when_cancelled)
            try:
                return await trio.to_thread.run_sync(job.run)
            except CleaningAborted:
                await trio.lowlevel.checkpoint()
                raise
            finally:
                nursery.cancel_scope.cancel()

    def _remember_horizon(self, tp: TopicPartition, lg: object, result: CleaningResult) -> None:
        if result.pending_horizon_ms is None:
            self._horizons.pop(tp, None)
        else:
            self._horizons[tp] = (lg, result.pending_horizon_ms)
