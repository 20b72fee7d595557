"""The broker's logs across its ``log.dirs`` (Kafka's LogManager, storage part only).

Each log dir holds one directory per partition replica (``<topic>-<partition>``) and these files
(formats in :mod:`kafkalite.storage.checkpoint`):

- ``recovery-point-offset-checkpoint``: per partition, the offset below which data was fsynced;
  after a crash, recovery starts at the segment containing it.
- ``log-start-offset-checkpoint``: per partition, the log start offset (may be inside the first
  segment after DeleteRecords/retention).
- ``replication-offset-checkpoint``: per partition, the high watermark. The replica manager owns
  the live values (on its Partition objects) and lends them through :attr:`high_watermark_source`;
  at startup the stored ones, clamped to ``[log start, log end]``, are kept for
  :meth:`LogManager.restored_high_watermark`, so a reopened partition resumes its HW.
- ``cleaner-offset-checkpoint``: per compacted partition, where the log cleaner stopped; created
  empty by :meth:`LogManager.checkpoint` when missing, maintained by the cleaner.
- ``.kafka_cleanshutdown``: written last by :meth:`LogManager.shutdown`; present at startup means
  no recovery is needed. It is deleted as soon as the logs are loaded, so a crash of this run is
  detected by the next one.
- ``meta.properties``: broker.id and cluster.id, refusing to start on someone else's data.

Directories ending in ``-delete`` are deletions interrupted by a crash and are removed at
startup; ``-future``/``-stray`` directories (replica movement, KRaft) are ignored.

**Offline log dirs** (Kafka's LogDirFailureChannel, KIP-112). An I/O error in a log dir (a
full disk: ENOSPC on an append, a roll, a checkpoint) takes the whole dir offline:
:meth:`LogManager.fail_log_dir` forgets its logs without writing anything more to them (what
is on disk is recovered at the next start), stops writing its checkpoints, never writes its
clean-shutdown marker (so that start recovers it) and places no new log there, then tells the
:attr:`LogManager.log_dir_failure_listener` (the replica manager, which answers
KAFKA_STORAGE_ERROR for those partitions and tells the controller). A dir comes back only
with a restart. A dir that cannot be loaded at startup is offline from the start; a log that
is not new (LeaderAndIsr ``is_new`` false) is not created anywhere while a dir is offline,
since it may be the one holding it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from kafkalite.errors import ConfigError, InvalidTopicException, KafkaStorageError
from kafkalite.model import TopicPartition, validate_topic_name
from kafkalite.storage.checkpoint import (
    CLEAN_SHUTDOWN_FILE, CLEANER_OFFSET_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT, REPLICATION_OFFSET_CHECKPOINT, CorruptCheckpoint, atomic_write,
    fsync_dir, read_checkpoint, read_meta_properties, write_checkpoint, write_meta_properties,
)
from kafkalite.storage.config import LogConfig
from kafkalite.storage.log import Log, parse_topic_partition

__all__ = ["LogManager"]

logger = logging.getLogger(__name__)

_DELETE_SUFFIX = "-delete"
_IGNORED_SUFFIXES = ("-future", "-stray")


class LogManager:
    """Opens every partition log of the broker's log dirs and creates new ones.

    Args:
        log_dirs: the broker's ``log.dirs``; created if missing.
        default_config: config of logs whose topic has no overrides.
        config_for_topic: topic -> LogConfig (topic overrides from ZooKeeper); default: always
            ``default_config``.
    """

    def __init__(self, log_dirs: Sequence[Path], default_config: LogConfig, *,
                 config_for_topic: Callable[[str], LogConfig] | None = None):
        if not log_dirs:
            raise ConfigError("log.dirs must name at least one directory")
        self.log_dirs = [Path(d) for d in log_dirs]
        if len({d.resolve() for d in self.log_dirs}) != len(self.log_dirs):
            raise ConfigError(f"Duplicate log directory found: {self.log_dirs}")
        self.default_config = default_config
        self._config_for_topic = config_for_topic or (lambda topic: default_config)
        self._logs: dict[TopicPartition, Log] = {}
        self._dir_of: dict[TopicPartition, Path] = {}
        self.had_clean_shutdown: dict[Path, bool] = {}
        # High watermarks read from replication-offset-checkpoint at startup (clamped).
        self._stored_high_watermarks: dict[TopicPartition, int] = {}
        #: Set by the replica manager's side: the live high watermarks to checkpoint. Partitions
        #: it does not name keep their stored value.
        self.high_watermark_source: Callable[[], Mapping[TopicPartition, int]] | None = None
        #: Log dirs taken offline by an I/O error (see the module docstring).
        self.offline_dirs: set[Path] = set()
        #: Called as ``(log_dir, partitions that were in it)`` when a log dir goes offline.
        self.log_dir_failure_listener: Callable[[Path, list[TopicPartition]], None] | None = None
        self._closed = False
        for log_dir in self.log_dirs:
            try:
                self._load_dir(log_dir)
            except OSError as exc:
                self.fail_log_dir(log_dir, exc)
        if not self.live_log_dirs:
            raise KafkaStorageError(f"None of the specified log dirs {self.log_dirs} can be "
                                    "created or loaded")

    # -- startup ------------------------------------------------------------------------------

    def _load_dir(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        marker = log_dir / CLEAN_SHUTDOWN_FILE
        clean = marker.exists()
        self.had_clean_shutdown[log_dir] = clean
        recovery_points = _read_checkpoint_or_empty(log_dir / RECOVERY_POINT_CHECKPOINT)
        log_starts = _read_checkpoint_or_empty(log_dir / LOG_START_OFFSET_CHECKPOINT)
        high_watermarks = _read_checkpoint_or_empty(log_dir / REPLICATION_OFFSET_CHECKPOINT)
        logger.info("Loading logs from log dir %s (%s shutdown)", log_dir,
                    "clean" if clean else "unclean")
        for entry in sorted(os.scandir(log_dir), key=lambda e: e.name):
            if not entry.is_dir():
                continue
            name = entry.name
            if name.endswith(_DELETE_SUFFIX):
                logger.info("Removing %s, a log deletion interrupted earlier", entry.path)
                shutil.rmtree(entry.path)
                continue
            if name.endswith(_IGNORED_SUFFIXES):
                logger.warning("Ignoring directory %s", entry.path)
                continue
            try:
                tp = parse_topic_partition(name)
            except ValueError:
                continue
            if tp in self._logs:
                raise ConfigError(f"Duplicate log directories for {tp} are found in both "
                                  f"{self._dir_of[tp]} and {log_dir}")
            key = (tp.topic, tp.partition)
            log = self._logs[tp] = Log.open(Path(entry.path), self._config_for_topic(tp.topic),
                                            recovery_point=recovery_points.get(key, 0),
                                            clean_shutdown=clean,
                                            log_start_offset=log_starts.get(key))
            self._dir_of[tp] = log_dir
            if key in high_watermarks:
                self._stored_high_watermarks[tp] = min(
                    max(high_watermarks[key], log.log_start_offset), log.log_end_offset)
        if clean:
            marker.unlink()
            fsync_dir(log_dir)

    # -- access -------------------------------------------------------------------------------

    def get_log(self, topic: str, partition: int) -> Log | None:
        return self._logs.get(TopicPartition(topic, partition))

    @property
    def logs(self) -> dict[TopicPartition, Log]:
        """A snapshot of every loaded log."""
        return dict(self._logs)

    def restored_high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's last checkpointed high watermark: from ``replication-offset-
        checkpoint`` at startup (clamped to ``[log start, log end]`` of the reopened log), then
        from each :meth:`checkpoint`. None if it has none."""
        return self._stored_high_watermarks.get(TopicPartition(topic, partition))

    def log_dir_of(self, topic: str, partition: int) -> Path | None:
        return self._dir_of.get(TopicPartition(topic, partition))

    @property
    def live_log_dirs(self) -> list[Path]:
        return [d for d in self.log_dirs if d not in self.offline_dirs]

    def get_or_create_log(self, topic: str, partition: int,
                          config: LogConfig | None = None, *, is_new: bool = True) -> Log:
        """The partition's log; a new one goes to the live log dir holding the fewest
        partitions.

        Raises:
            InvalidTopicException: the topic name cannot be a directory name.
            KafkaStorageError: no live log dir; or ``is_new`` is false while a log dir is
                offline (the log may be there: an empty copy elsewhere must not stand in for
                it); or creating it failed (that log dir is offline now).
        """
        self._check_open()
        tp = TopicPartition(topic, partition)
        log = self._logs.get(tp)
        if log is not None:
            return log
        reason = validate_topic_name(topic)
        if reason is not None or partition < 0:
            raise InvalidTopicException(reason or f"Invalid partition {partition}")
        if self.offline_dirs and not is_new:
            raise KafkaStorageError(f"Can not create log for {tp} because log directories "
                                    f"{','.join(map(str, sorted(self.offline_dirs)))} are "
                                    "offline")
        log_dir = self._next_log_dir()
        try:
            # No fsync of log_dir per new partition (thousands arrive in one LeaderAndIsr):
            # the next checkpoint() makes the new directory entries durable, as its atomic
            # writes fsync the log dir; a log lost to a power cut before it is recreated.
            log = Log.open(log_dir / f"{topic}-{partition}",
                           config or self._config_for_topic(topic))
        except OSError as exc:
            self.fail_log_dir(log_dir, exc)
            raise KafkaStorageError(f"Error while creating log for {tp} in dir {log_dir}: "
                                    f"{exc}") from exc
        self._logs[tp], self._dir_of[tp] = log, log_dir
        logger.info("Created log for partition %s in %s", tp, log_dir)
        return log

    def _next_log_dir(self) -> Path:
        live = self.live_log_dirs
        if not live:
            raise KafkaStorageError(f"No log directory is online: {self.log_dirs} failed")
        if len(live) == 1:
            return live[0]   # no count over every log per new log (quadratic in partitions)
        counts = {d: 0 for d in live}
        for log_dir in self._dir_of.values():
            counts[log_dir] = counts.get(log_dir, 0) + 1
        return min(live, key=lambda d: counts[d])

    def fail_log_dir(self, log_dir: Path, cause: BaseException) -> list[TopicPartition]:
        """Take ``log_dir`` offline after the I/O error ``cause`` (see the module docstring).

        Returns the partitions whose logs were there; [] if the dir was offline already.
        """
        log_dir = Path(log_dir)
        if log_dir in self.offline_dirs or log_dir not in self.log_dirs:
            return []
        self.offline_dirs.add(log_dir)
        logger.error("Error while accessing log dir %s: %s", log_dir, cause)
        gone = sorted((tp for tp, d in self._dir_of.items() if d == log_dir),
                      key=lambda tp: (tp.topic, tp.partition))
        for tp in gone:
            log = self._logs.pop(tp)
            del self._dir_of[tp]
            self._stored_high_watermarks.pop(tp, None)
            log.abandon()
        logger.warning("Logs for partitions %s are offline due to failure on log directory %s",
                       ",".join(map(str, gone)), log_dir)
        if self.log_dir_failure_listener is not None:
            self.log_dir_failure_listener(log_dir, gone)
        return gone

    def delete_log(self, topic: str, partition: int) -> bool:
        """Remove the partition's log and its files at once. Returns False if there was none.
        """
        staged = self.stage_deletions([TopicPartition(topic, partition)])
        for log in staged:
            self.delete_staged(log)
        return bool(staged)

    def stage_deletions(self, tps: Iterable[TopicPartition]) -> list[Log]:
        """Take the logs of ``tps`` out of the manager for deletion (Kafka's asyncDelete) and
        return them; the caller removes their files later with :meth:`delete_staged`.

        Each directory is renamed ``<topic>-<partition>.<n>-delete`` and every log dir
        concerned is fsynced once after all the renames, so a crash from then on never loads
        them again (start-up removes such directories). A StopReplica of a deleted topic waits
        for this only: unlinking the files of thousands of partitions (about 0.15 ms each)
        would hold the event loop for seconds, and an fsync per partition doubled that.
        """
        self._check_open()
        staged: list[Log] = []
        renamed_in: set[Path] = set()
        for tp in tps:
            log = self._logs.pop(tp, None)
            if log is None:
                continue
            log_dir = self._dir_of.pop(tp)
            self._stored_high_watermarks.pop(tp, None)
            n = 0
            while (target := log_dir / f"{tp}.{n}{_DELETE_SUFFIX}").exists():
                n += 1
            log.rename_dir(target)
            renamed_in.add(log_dir)
            staged.append(log)
        for log_dir in renamed_in:
            fsync_dir(log_dir)
        return staged

    @staticmethod
    def delete_staged(log: Log) -> None:
        """Remove the files of a log :meth:`stage_deletions` gave (an in-flight fetch that
        holds a segment's descriptor still reads it)."""
        log.delete()
        logger.info("Deleted log for partition %s in %s", log.topic_partition, log.dir)

    # -- checkpoints and shutdown -------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write each log dir's recovery-point, log-start-offset and replication-offset (high
        watermark) checkpoints. Atomic per file; a crash in between leaves older, still valid
        files (each value only lags)."""
        for log_dir, exc in self.write_checkpoints(self.plan_checkpoints()):
            self.fail_log_dir(log_dir, exc)

    def plan_checkpoints(self) -> list[tuple[Path, list[tuple[Path, dict]]]]:
        """The checkpoint files' contents now, per live log dir, for :meth:`write_checkpoints`
        (which may run in a worker thread: the periodic checkpoint fsyncs, and an fsync
        behind seconds of writeback would otherwise stall every request)."""
        live = dict(self.high_watermark_source()) if self.high_watermark_source else {}
        for tp, hw in live.items():
            if tp in self._logs:
                self._stored_high_watermarks[tp] = hw
        by_dir: dict[Path, dict[TopicPartition, Log]] = {d: {} for d in self.live_log_dirs}
        for tp, log in self._logs.items():   # one pass (Path equality per log per dir is slow)
            logs_of_dir = by_dir.get(self._dir_of[tp])
            if logs_of_dir is not None:
                logs_of_dir[tp] = log
        plan = []
        for log_dir, logs in by_dir.items():
            plan.append((log_dir, [
                (log_dir / RECOVERY_POINT_CHECKPOINT,
                 {(tp.topic, tp.partition): log.recovery_point for tp, log in logs.items()}),
                (log_dir / LOG_START_OFFSET_CHECKPOINT,
                 {(tp.topic, tp.partition): log.log_start_offset for tp, log in logs.items()}),
                (log_dir / REPLICATION_OFFSET_CHECKPOINT,
                 {(tp.topic, tp.partition): self._stored_high_watermarks[tp]
                  for tp in logs if tp in self._stored_high_watermarks}),
            ]))
        return plan

    def write_checkpoints(self, plan: list[tuple[Path, list[tuple[Path, dict]]]]
                          ) -> list[tuple[Path, OSError]]:
        """Write what :meth:`plan_checkpoints` planned (and an empty cleaner checkpoint where
        none exists); returns the log dirs that failed, for the caller to take offline (on
        the event loop). One writer at a time, as the files share temporary names: the
        broker's periodic task waits for its thread before the shutdown's own checkpoint."""
        failed = []
        for log_dir, files in plan:
            try:
                for path, offsets in files:
                    write_checkpoint(path, offsets)
                if not (log_dir / CLEANER_OFFSET_CHECKPOINT).exists():
                    write_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT, {})
            except OSError as exc:
                failed.append((log_dir, exc))
        return failed

    def flush_all(self) -> None:
        for log in self._logs.values():
            log.flush()

    def shutdown(self) -> None:
        """Flush and close every log, write checkpoints, then the clean-shutdown markers."""
        if self._closed:
            return
        for tp, log in list(self._logs.items()):
            try:
                log.flush()
                log.close()
            except OSError as exc:
                self.fail_log_dir(self._dir_of[tp], exc)
        self.checkpoint()
        for log_dir in self.live_log_dirs:   # an offline dir is recovered at the next start
            try:
                atomic_write(log_dir / CLEAN_SHUTDOWN_FILE, b"")
            except OSError as exc:
                self.fail_log_dir(log_dir, exc)
        self._closed = True
        if self.offline_dirs:
            logger.warning("Log manager shut down; offline log dirs %s get no clean-shutdown "
                           "marker", ",".join(map(str, sorted(self.offline_dirs))))
        else:
            logger.info("Log manager shut down cleanly")

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("LogManager is shut down")

    # -- meta.properties ----------------------------------------------------------------------

    def read_meta_properties(self) -> dict[Path, dict[str, str] | None]:
        return {d: read_meta_properties(d) for d in self.live_log_dirs}

    def write_meta_properties(self, broker_id: int, cluster_id: str) -> None:
        """Write ``meta.properties`` to every log dir, refusing data of another broker/cluster.

        Raises:
            ConfigError: a log dir belongs to another broker.id or cluster.id (nothing written).
        """
        stored = self.read_meta_properties()
        for log_dir, props in stored.items():
            if props is None:
                continue
            if props.get("broker.id", str(broker_id)) != str(broker_id):
                raise ConfigError(
                    f"Stored broker.id {props['broker.id']} in meta.properties of log dir "
                    f"{log_dir} doesn't match configured broker.id {broker_id}. If you moved "
                    "your data, make sure your configured broker.id matches. If you intend to "
                    "create a new broker, remove all data in your data directories (log.dirs).")
            if props.get("cluster.id", cluster_id) != cluster_id:
                raise ConfigError(
                    f"The Cluster ID {cluster_id} doesn't match stored clusterId "
                    f"{props['cluster.id']} in meta.properties of log dir {log_dir}. The broker "
                    "is trying to join the wrong cluster. Configured zookeeper.connect may be "
                    "wrong.")
        wanted = {"version": "0", "broker.id": str(broker_id), "cluster.id": cluster_id}
        for log_dir, props in stored.items():
            if props != wanted:
                write_meta_properties(log_dir, wanted)


def _read_checkpoint_or_empty(path: Path) -> dict[tuple[str, int], int]:
    try:
        return read_checkpoint(path)
    except CorruptCheckpoint as exc:
        logger.warning("Error reading %s (%s); resetting it, which means full recovery for "
                       "the logs of this directory after an unclean shutdown", path, exc)
        return {}
