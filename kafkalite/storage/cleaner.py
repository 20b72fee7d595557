"""Log compaction: Kafka's LogCleaner (its Cleaner, OffsetMap and LogCleanerManager parts).

A log whose ``cleanup.policy`` contains ``compact`` keeps, eventually, only the newest record of
every key. The trio shell (``kafkalite.server.cleaner_service``) runs one round at a time:

1. **Choose** (event loop, cheap: sizes, bases, cached timestamps). For each compacted log,
   :func:`examine_log` works out the *dirty* section ``[first_dirty, first_uncleanable)``:
   ``first_dirty`` comes from ``cleaner-offset-checkpoint`` (reset to the log start offset when it
   is out of range); ``first_uncleanable`` is the smallest of the active segment's base, the
   log's last stable offset (Kafka 3.x: the first unstable offset of its producer state, bounded
   by the high watermark the caller passes; open transactions and undecided markers are never
   compacted) and the first segment younger than ``min.compaction.lag.ms``, rounded down to a
   segment base so rounds always cover whole segments. A log is cleaned when its dirty ratio
   ``dirty / (clean + dirty)`` bytes exceeds ``min.cleanable.dirty.ratio``, when a dirty segment
   is older than ``max.compaction.lag.ms``, or when a delete horizon it stamped has passed (see
   ``cleaner_filter.py``). The dirtiest log wins.
2. **Clean** (:meth:`CleaningJob.run`, a worker thread). It only reads closed segments through
   file handles pinned at step 1 (with the aborted transactions of the range, read there from
   the ``.txnindex`` files), and only writes new files, so produce and fetch go on. First the
   :class:`OffsetMap` ``key -> last offset`` is built over the dirty section, skipping aborted
   batches (stopping at a batch boundary when full, which ends the round early:
   ``end_offset``). Then every segment below ``end_offset`` is filtered, in groups of
   consecutive segments that fit one segment (``segment.bytes``, index sizes, 32-bit relative
   offsets), into ``<base>.log.cleaned`` plus its ``.index.cleaned``/``.timeindex.cleaned``,
   built exactly as recovery would build them, and ``.txnindex.cleaned`` (see below).
3. **Swap** (:func:`swap_in_cleaned_segments`, event loop): ``Log.replace_segments`` renames
   ``.cleaned`` to ``.swap`` (the ``.log`` last: the commit point), deletes the old segments
   (open descriptors, and so pinned fetch regions, stay valid) and renames ``.swap`` to the
   final names (again the ``.log`` last). A log that changed meanwhile (segments deleted or
   truncated) makes the round's cleaned files go away unused. After a crash,
   :func:`complete_interrupted_swaps` finishes a swap found on disk.
4. The checkpoint moves to ``end_offset``.

Which records and batches survive a round (the key and tombstone rules, delete horizons,
transactions, empty batches) is ``storage/cleaner_filter.py``; the offset map lives there too.

The cleaned segment's ``.txnindex`` lists the aborted transactions whose ABORT marker survives
into it with its record, with their original entries (so ``last_stable_offset`` still bounds
searches). The cleaner always writes ``<base>.txnindex.cleaned``, empty when there is none, so
a ``.log.swap`` found after a crash always tells which transaction index belongs to it: its
``.txnindex.swap`` if present, otherwise the final rename had already begun, and the old
segments (with their indexes) were gone. An empty index file is removed once swapped in.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import (
    HEADER, LOG_OVERHEAD, MAGIC_V2, RECORD_BATCH_OVERHEAD, RecordBatchView,
)
# the filter rules; the public ones are re-exported (see __all__)
from kafkalite.storage.cleaner_filter import (
    FilteredBatch, OffsetMap, _control_type, _parse_records, _records_blob, _TransactionMetadata,
    discard_batch, filter_batch, filter_control_batch, should_retain_record,
    validate_compacted_records,
)
from kafkalite.storage.index import OffsetIndex, TimeIndex
from kafkalite.storage.segment import (
    INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, BatchScan, FileHandle, segment_file_name,
)
from kafkalite.storage.txn_index import TXN_INDEX_SUFFIX, AbortedTxn

if TYPE_CHECKING:
    from kafkalite.storage.log import Log

__all__ = [
    "CLEANER_OFFSET_CHECKPOINT", "CleanedGroup", "CleanerConfig", "CleaningAborted",
    "CleaningJob", "CleaningResult", "FilteredBatch", "LogToClean", "OffsetMap", "SegmentSizes",
    "SegmentStats", "choose_log_to_clean", "cleanable_offsets", "complete_interrupted_swaps",
    "discard_batch", "discard_cleaned_segments", "examine_log", "filter_batch",
    "filter_control_batch", "group_segments_by_size", "is_compacted", "offset_map_capacity",
    "should_retain_record", "swap_in_cleaned_segments", "validate_compacted_records",
]

logger = logging.getLogger(__name__)

CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
LONG_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_BYTES_PER_MAP_ENTRY = 24  # Kafka's SkimpyOffsetMap: 16-byte MD5 + 8-byte offset
_READ_CHUNK = 1 << 20
_WRITE_CHUNK = 1 << 20
_LENGTH = struct.Struct(">i")


class CleaningAborted(Exception):
    """The round was aborted (shutdown) before it finished; nothing was swapped in."""


def is_compacted(cleanup_policy: str) -> bool:
    """True for ``compact`` and ``compact,delete`` (either order)."""
    return "compact" in cleanup_policy.replace(" ", "").split(",")


def offset_map_capacity(dedupe_buffer_size: int, *, threads: int = 1,
                        load_factor: float = 0.9) -> int:
    """Keys one round may map: Kafka's ``dedupe.buffer.size / threads / 24 * load factor``."""
    return max(1, int(dedupe_buffer_size // max(threads, 1) // _BYTES_PER_MAP_ENTRY
                      * load_factor))


@attrs.frozen(kw_only=True)
class CleanerConfig:
    """The topic configs that steer compaction (Kafka's names, snake_cased; Kafka's defaults)."""

    delete_retention_ms: int = 86_400_000
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX

    @classmethod
    def from_topic_configs(cls, values: Mapping[str, Any]) -> CleanerConfig:
        """Build from Kafka-named topic configs (missing names keep their defaults)."""
        d = cls()
        return cls(
            delete_retention_ms=int(values.get("delete.retention.ms", d.delete_retention_ms)),
            min_cleanable_dirty_ratio=float(values.get("min.cleanable.dirty.ratio",
                                                       d.min_cleanable_dirty_ratio)),
            min_compaction_lag_ms=int(values.get("min.compaction.lag.ms",
                                                 d.min_compaction_lag_ms)),
            max_compaction_lag_ms=int(values.get("max.compaction.lag.ms",
                                                 d.max_compaction_lag_ms)))


# -- choosing the log and the range ------------------------------------------------------------


@attrs.frozen
class SegmentStats:
    """What the choice needs of one segment: base offset, bytes, largest record timestamp."""

    base_offset: int
    size: int
    largest_timestamp: int = -1


def cleanable_offsets(segments: Sequence[SegmentStats], *, log_start_offset: int,
                      log_end_offset: int, last_clean_offset: int | None,
                      last_stable_offset: int, now_ms: int, min_compaction_lag_ms: int
                      ) -> tuple[int, int, bool]:
    """Kafka's ``LogCleanerManager.cleanableOffsets``: ``(first_dirty, first_uncleanable,
    force_update_checkpoint)`` for segments sorted by base, the last being the active one.

    ``first_uncleanable`` is rounded down to a segment base (whole segments only) and is never
    below ``first_dirty``. ``force_update_checkpoint`` says the checkpoint was out of range.
    """
    checkpoint = log_start_offset if last_clean_offset is None else last_clean_offset
    force = False
    first_dirty = checkpoint
    if checkpoint < log_start_offset or checkpoint > log_end_offset:
        first_dirty, force = log_start_offset, True
    bounds = [segments[-1].base_offset, last_stable_offset]
    if min_compaction_lag_ms > 0:
        for i, seg in enumerate(segments[:-1]):
            if segments[i + 1].base_offset <= first_dirty:
                continue
            if seg.largest_timestamp > now_ms - min_compaction_lag_ms:
                bounds.append(seg.base_offset)
                break
    limit = min(bounds)
    bases = [s.base_offset for s in segments]
    i = bisect.bisect_right(bases, limit) - 1
    first_uncleanable = bases[i] if i >= 0 else bases[0]
    return first_dirty, max(first_dirty, first_uncleanable), force


def _clean_and_dirty_bytes(segments: Sequence[SegmentStats], first_dirty: int,
                           first_uncleanable: int) -> tuple[int, int]:
    """Kafka's cleanBytes (segments below the first dirty offset) and cleanable bytes (segments
    overlapping ``[first_dirty, first_uncleanable)``)."""
    clean = dirty = 0
    for i, seg in enumerate(segments):
        next_base = segments[i + 1].base_offset if i + 1 < len(segments) else LONG_MAX
        if seg.base_offset < first_dirty:
            clean += seg.size
        if seg.base_offset < first_uncleanable and next_base > first_dirty:
            dirty += seg.size
    return clean, dirty


@attrs.frozen(kw_only=True)
class LogToClean:
    """One compacted log's cleaning state at a moment (Kafka's LogToClean)."""

    log: Any = attrs.field(eq=False, repr=False)
    first_dirty_offset: int
    first_uncleanable_offset: int
    clean_bytes: int
    dirty_bytes: int
    config: CleanerConfig
    force_update_checkpoint: bool = False
    need_compaction_now: bool = False
    tombstones_expired: bool = False

    @property
    def total_bytes(self) -> int:
        return self.clean_bytes + self.dirty_bytes

    @property
    def cleanable_ratio(self) -> float:
        return self.dirty_bytes / self.total_bytes if self.total_bytes else 0.0

    @property
    def should_clean(self) -> bool:
        if self.total_bytes <= 0:
            return False
        return ((self.need_compaction_now and self.dirty_bytes > 0)
                or self.cleanable_ratio > self.config.min_cleanable_dirty_ratio
                or self.tombstones_expired)


def examine_log(log: Log, *, last_clean_offset: int | None, last_stable_offset: int,
                now_ms: int, config: CleanerConfig, pending_horizon_ms: int | None = None
                ) -> LogToClean:
    """Measure one log (event loop; reads at most cached timestamps and one batch header per
    dirty segment when ``max.compaction.lag.ms`` is set).

    Args:
        last_stable_offset: the replication layer's bound, the partition's high watermark (or
            its LSO). It is lowered to the log's own last stable offset: the first offset of a
            transaction still open, or decided by a marker not yet below that bound.
    """
    segments = log.segments
    stats = [SegmentStats(s.base_offset, s.size,
                          s.max_timestamp if config.min_compaction_lag_ms > 0 else -1)
             for s in segments]
    lso = log.last_stable_offset(min(last_stable_offset, log.log_end_offset))
    first_dirty, first_uncleanable, force = cleanable_offsets(
        stats, log_start_offset=log.log_start_offset, log_end_offset=log.log_end_offset,
        last_clean_offset=last_clean_offset, last_stable_offset=lso,
        now_ms=now_ms, min_compaction_lag_ms=config.min_compaction_lag_ms)
    clean, dirty = _clean_and_dirty_bytes(stats, first_dirty, first_uncleanable)
    need_now = False
    if config.max_compaction_lag_ms < LONG_MAX:
        # Kafka's maxCompactionDelay: the earliest first-batch timestamp of a dirty segment.
        clean_until = now_ms - max(config.max_compaction_lag_ms, 0)
        for i, seg in enumerate(segments[:-1]):
            if segments[i + 1].base_offset <= first_dirty:
                continue
            first_ts = seg.rolling_based_timestamp
            if first_ts is not None and 0 < first_ts < clean_until:
                need_now = True
                break
    return LogToClean(log=log, first_dirty_offset=first_dirty,
                      first_uncleanable_offset=first_uncleanable, clean_bytes=clean,
                      dirty_bytes=dirty, config=config, force_update_checkpoint=force,
                      need_compaction_now=need_now,
                      tombstones_expired=(pending_horizon_ms is not None
                                          and pending_horizon_ms <= now_ms))


def choose_log_to_clean(candidates: Iterable[LogToClean]) -> LogToClean | None:
    """The filthiest log (largest dirty ratio) among those that should be cleaned."""
    cleanable = [c for c in candidates if c.should_clean]
    if not cleanable:
        return None
    return max(cleanable, key=lambda c: c.cleanable_ratio)


class SegmentSizes(NamedTuple):
    """What grouping needs of one segment: its base offset and its three file sizes."""

    base_offset: int
    size: int
    index_bytes: int
    time_index_bytes: int


def group_segments_by_size(segments: Sequence[SegmentSizes], *, max_size: int,
                           max_index_size: int, first_uncleanable_offset: int
                           ) -> list[list[int]]:
    """Kafka's ``groupSegmentsBySize``: indices of consecutive segments, each group fitting one
    segment (log bytes <= ``max_size``, each index <= ``max_index_size``) whose offsets stay
    within 32 bits of the group's base. An empty segment never breaks a group on offsets.
    """
    groups: list[list[int]] = []
    i = 0
    while i < len(segments):
        group = [i]
        first = segments[i]
        log_size, index_size, time_size = first.size, first.index_bytes, first.time_index_bytes
        i += 1
        while i < len(segments):
            seg = segments[i]
            last_offset = (segments[i + 1].base_offset - 1 if i + 1 < len(segments)
                           else first_uncleanable_offset - 1)
            if (log_size + seg.size > max_size or index_size + seg.index_bytes > max_index_size
                    or time_size + seg.time_index_bytes > max_index_size
                    or (seg.size > 0 and last_offset - first.base_offset > _INT32_MAX)):
                break
            group.append(i)
            log_size += seg.size
            index_size += seg.index_bytes
            time_size += seg.time_index_bytes
            i += 1
        groups.append(group)
    return groups


# -- the worker-thread job ----------------------------------------------------------------------


@attrs.frozen(eq=False)
class _SegmentSnapshot:
    """A closed segment as the round saw it; ``handle`` keeps its descriptor open."""

    segment: Any = attrs.field(repr=False)
    handle: FileHandle = attrs.field(repr=False)
    base_offset: int
    size: int
    next_base: int
    index_bytes: int
    time_index_bytes: int
    mtime_ns: int


@attrs.frozen(eq=False)
class CleanedGroup:
    """Old segments and the cleaned files that replace them (``changed`` False: none written)."""

    old_segments: tuple[Any, ...] = attrs.field(repr=False)
    old_sizes: tuple[int, ...]
    base_offset: int
    directory: Path
    changed: bool


@attrs.frozen(eq=False)
class CleaningResult:
    """What a round produced: groups to swap in, the new checkpoint and statistics."""

    groups: tuple[CleanedGroup, ...]
    end_offset: int
    pending_horizon_ms: int | None
    records_read: int
    records_retained: int
    bytes_read: int
    bytes_written: int


def _file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class CleaningJob:
    """One round over one log, prepared on the event loop and run in a worker thread.

    The constructor snapshots everything the thread needs (segment handles and sizes, configs,
    the producers' last records, the aborted transactions of the range); :meth:`run` touches
    nothing but those descriptors and the new ``.cleaned`` files. :meth:`abort` may be called
    from any thread.
    """

    def __init__(self, to_clean: LogToClean, *, now_ms: int, offset_map_capacity: int):
        log = to_clean.log
        self.topic_partition = log.topic_partition
        self.directory = Path(log.dir)
        self.first_dirty_offset = to_clean.first_dirty_offset
        self.first_uncleanable_offset = to_clean.first_uncleanable_offset
        self.now_ms = now_ms
        self.delete_retention_ms = to_clean.config.delete_retention_ms
        self.capacity = offset_map_capacity
        self.segment_bytes = log.config.segment_bytes
        self.segment_index_bytes = log.config.segment_index_bytes
        self.index_interval_bytes = log.config.index_interval_bytes
        # Kafka's lastRecordsOfActiveProducers: (last data offset or -1, producer epoch)
        self.producer_last_records = {pid: (entry.last_offset, entry.producer_epoch)
                                      for pid, entry in log.producer_state.producers.items()}
        segments = log.segments
        self.segments: list[_SegmentSnapshot] = []
        for i, seg in enumerate(segments[:-1]):
            if seg.base_offset >= self.first_uncleanable_offset:
                break
            handle = seg.file_handle
            self.segments.append(_SegmentSnapshot(
                seg, handle, seg.base_offset, seg.size, segments[i + 1].base_offset,
                _file_size(seg.path(INDEX_SUFFIX)), _file_size(seg.path(TIME_INDEX_SUFFIX)),
                os.fstat(handle.fd).st_mtime_ns))
        self.aborted_transactions: tuple[AbortedTxn, ...] = ()
        if self.segments:
            self.aborted_transactions = tuple(log.collect_aborted_transactions(
                self.segments[0].base_offset, self.first_uncleanable_offset))
        self._aborted = False

    def abort(self) -> None:
        self._aborted = True

    def _check_aborted(self) -> None:
        if self._aborted:
            raise CleaningAborted(f"Cleaning of {self.topic_partition} was aborted")

    # -- worker thread --------------------------------------------------------------------------

    def run(self) -> CleaningResult:
        """Build the offset map, then write the cleaned groups (worker thread).

        Raises:
            CleaningAborted: :meth:`abort` was called; every file written is removed.
            CorruptMessage: a segment holds an invalid batch (the log should not be cleaned).
        """
        offset_map = OffsetMap(self.capacity, start_offset=self.first_dirty_offset)
        self._build_offset_map(offset_map, _TransactionMetadata(self.aborted_transactions))
        end_offset = offset_map.latest_offset + 1
        to_clean = [s for s in self.segments if s.base_offset < end_offset]
        grouped = group_segments_by_size(
            [SegmentSizes(s.base_offset, s.size, s.index_bytes, s.time_index_bytes)
             for s in to_clean],
            max_size=self.segment_bytes, max_index_size=self.segment_index_bytes,
            first_uncleanable_offset=self.first_uncleanable_offset)
        groups: list[CleanedGroup] = []
        totals = [0, 0, 0, 0]  # records read, retained, bytes read, written
        pending: int | None = None
        txns = _TransactionMetadata(self.aborted_transactions)  # carried across the groups
        try:
            for indices in grouped:
                members = [to_clean[i] for i in indices]
                group, group_pending = self._clean_group(members, offset_map, txns, totals)
                groups.append(group)
                if group_pending is not None:
                    pending = group_pending if pending is None else min(pending, group_pending)
        except BaseException:
            discard_cleaned_segments(groups)
            raise
        return CleaningResult(tuple(groups), end_offset, pending, *totals)

    def _batches(self, snapshot: _SegmentSnapshot) -> Iterator[RecordBatchView]:
        """Whole batches of a pinned segment, CRC-checked, read in large chunks."""
        fd, size, pos, need = snapshot.handle.fd, snapshot.size, 0, 0
        while pos < size:
            self._check_aborted()
            chunk = os.pread(fd, min(max(_READ_CHUNK, need), size - pos), pos)
            view, off, need = memoryview(chunk), 0, 0
            while off + LOG_OVERHEAD <= len(chunk):
                total = _LENGTH.unpack_from(chunk, off + 8)[0] + LOG_OVERHEAD
                if total < RECORD_BATCH_OVERHEAD:
                    raise CorruptMessage(f"Invalid batch length at byte {pos + off} of segment "
                                         f"{snapshot.base_offset} of {self.topic_partition}")
                if off + total > len(chunk):
                    need = total
                    break
                batch = RecordBatchView(view[off:off + total])
                if batch.magic != MAGIC_V2 or not batch.is_valid():
                    raise CorruptMessage(f"Invalid batch at offset {batch.base_offset} of "
                                         f"{self.topic_partition} (magic or CRC)")
                yield batch
                off += total
            if off == 0 and not 0 < need <= size - pos:
                raise CorruptMessage(f"Truncated batch at byte {pos} of segment "
                                     f"{snapshot.base_offset} of {self.topic_partition}")
            pos += off

    def _build_offset_map(self, offset_map: OffsetMap, txns: _TransactionMetadata) -> None:
        """Kafka's buildOffsetMap: map keys of the dirty section until the map is full; the
        records of aborted transactions are left out (they must not shadow committed ones)."""
        start = self.first_dirty_offset
        for snapshot in self.segments:
            if snapshot.next_base <= start:
                continue
            for batch in self._batches(snapshot):
                if batch.last_offset < start:
                    continue
                if not batch.is_control and txns.aborted_txn(batch) is None:
                    count = batch.records_count
                    if not offset_map.has_room_for(count) and offset_map.latest_offset >= start:
                        return
                    for record in _parse_records(batch, _records_blob(batch)):
                        if record.key is not None and record.offset >= start:
                            offset_map.put(record.key, record.offset)
                offset_map.update_latest_offset(batch.last_offset)
            offset_map.update_latest_offset(
                min(snapshot.next_base, self.first_uncleanable_offset) - 1)

    def _retain_empty(self, batch: RecordBatchView) -> bool:
        """Kafka's RETAIN_EMPTY: the batch holding an active producer's last data offset (its
        markers of the current epoch when it has none), and the round's last batch."""
        if batch.next_offset == self.first_uncleanable_offset:
            return True
        last = self.producer_last_records.get(batch.producer_id)
        if batch.producer_id < 0 or last is None:
            return False
        last_offset, epoch = last
        if last_offset >= 0:
            return batch.last_offset == last_offset
        return batch.is_control and batch.producer_epoch == epoch

    def _filter(self, batch: RecordBatchView, offset_map: OffsetMap,
                txns: _TransactionMetadata, writer: _CleanedSegmentWriter) -> FilteredBatch:
        """One batch through the transaction rules, then the key rules."""
        retain_empty = self._retain_empty(batch)
        if not batch.is_control:
            if txns.on_data_batch(batch):
                return discard_batch(batch, retain_empty=retain_empty)
            return filter_batch(batch, offset_map, now_ms=self.now_ms,
                                delete_retention_ms=self.delete_retention_ms,
                                retain_empty=retain_empty)
        can_discard, aborted = txns.on_control_batch(batch, _control_type(batch))
        result = filter_control_batch(batch, can_discard=can_discard, now_ms=self.now_ms,
                                      delete_retention_ms=self.delete_retention_ms,
                                      retain_empty=retain_empty)
        if aborted is not None and result.records_retained:
            writer.add_aborted_transaction(aborted)
        return result

    def _clean_group(self, members: Sequence[_SegmentSnapshot], offset_map: OffsetMap,
                     txns: _TransactionMetadata, totals: list[int]
                     ) -> tuple[CleanedGroup, int | None]:
        writer = _CleanedSegmentWriter(self.directory, members[0].base_offset,
                                       index_interval_bytes=self.index_interval_bytes,
                                       max_index_size=self.segment_index_bytes)
        changed = len(members) > 1
        pending: int | None = None
        try:
            for snapshot in members:
                for batch in self._batches(snapshot):
                    result = self._filter(batch, offset_map, txns, writer)
                    totals[0] += result.records_read
                    totals[1] += result.records_retained
                    totals[2] += batch.size_in_bytes
                    changed |= result.changed
                    if result.pending_horizon_ms is not None:
                        pending = (result.pending_horizon_ms if pending is None
                                   else min(pending, result.pending_horizon_ms))
                    if result.data is not None:
                        writer.append(result.data)
                        totals[3] += len(result.data)
            self._check_aborted()
            if changed:
                writer.finish(mtime_ns=members[-1].mtime_ns)
            else:
                writer.discard()
        except BaseException:
            writer.discard()
            raise
        return CleanedGroup(tuple(s.segment for s in members), tuple(s.size for s in members),
                            members[0].base_offset, self.directory, changed), pending


class _CleanedSegmentWriter:
    """Writes ``<base>.log.cleaned`` and its three indexes.

    Index entries follow ``LogSegment._index_batch``: an offset-index entry (batch last offset,
    position) once more than ``index.interval.bytes`` were written since the previous one, the
    time index tracking the max timestamp so far, plus the final time-index entry a segment gets
    when it becomes inactive. Recovery would rebuild byte-identical files. The
    ``.txnindex.cleaned`` holds the aborted transactions whose marker was kept, and is written
    even when empty (see the module docstring).
    """

    def __init__(self, directory: Path, base_offset: int, *, index_interval_bytes: int,
                 max_index_size: int):
        self.directory = directory
        self.base_offset = base_offset
        self.interval = index_interval_bytes
        self.log_path = _cleaned_path(directory, base_offset, LOG_SUFFIX)
        self.log_path.unlink(missing_ok=True)
        self.fd: int | None = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                      | os.O_CLOEXEC, 0o644)
        self.offset_index = OffsetIndex(_cleaned_path(directory, base_offset, INDEX_SUFFIX),
                                        base_offset, max_index_size)
        self.time_index = TimeIndex(_cleaned_path(directory, base_offset, TIME_INDEX_SUFFIX),
                                    base_offset, max_index_size)
        self.offset_index.reset(defer_writes=True)
        self.time_index.reset(defer_writes=True)
        self.txn_index_path = _cleaned_path(directory, base_offset, TXN_INDEX_SUFFIX)
        self.aborted_transactions: list[AbortedTxn] = []
        self.position = 0
        self.last_index_position = 0
        self.max_timestamp, self.offset_of_max_timestamp = -1, base_offset
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def append(self, batch: bytes) -> None:
        (base_offset, batch_length, _epoch, _magic, _crc, _attributes, last_offset_delta,
         _base_ts, max_timestamp, *_producer) = HEADER.unpack_from(batch)
        last_offset = base_offset + last_offset_delta
        if max_timestamp > self.max_timestamp:
            self.max_timestamp, self.offset_of_max_timestamp = max_timestamp, last_offset
        if (self.position - self.last_index_position > self.interval
                and not self.offset_index.is_full):
            self.offset_index.append(last_offset, self.position)
            if not self.time_index.is_full:
                self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
            self.last_index_position = self.position
        self._pending.append(batch)
        self._pending_bytes += len(batch)
        self.position += batch_length + LOG_OVERHEAD
        if self._pending_bytes >= _WRITE_CHUNK:
            self._write_pending()

    def add_aborted_transaction(self, txn: AbortedTxn) -> None:
        self.aborted_transactions.append(txn)

    def _write_pending(self) -> None:
        data = memoryview(b"".join(self._pending))
        self._pending, self._pending_bytes = [], 0
        while data:
            data = data[os.write(self.fd, data):]

    def finish(self, *, mtime_ns: int) -> None:
        """Flush everything durably; keep Kafka's rule that the file has the old mtime."""
        self._write_pending()
        if self.max_timestamp >= 0:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp,
                                         skip_full_check=True)
        self.offset_index.write_out()
        self.time_index.write_out()
        self.offset_index.flush()
        self.time_index.flush()
        self.offset_index.close()
        self.time_index.close()
        _write_file(self.txn_index_path,
                    b"".join(txn.encode() for txn in self.aborted_transactions))
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        os.utime(self.log_path, ns=(mtime_ns, mtime_ns))

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.offset_index.close()
        self.time_index.close()
        _remove_cleaned_files(self.directory, self.base_offset)


def _cleaned_path(directory: Path, base_offset: int, suffix: str) -> Path:
    return Path(directory) / (segment_file_name(base_offset, suffix) + CLEANED_SUFFIX)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_cleaned_files(directory: Path, base_offset: int) -> None:
    for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX):
        _cleaned_path(directory, base_offset, suffix).unlink(missing_ok=True)


# -- swapping in (event loop) and crash completion -----------------------------------------------


def discard_cleaned_segments(groups: Iterable[CleanedGroup]) -> None:
    """Remove the cleaned files of groups that will not be swapped in."""
    for group in groups:
        if group.changed:
            _remove_cleaned_files(group.directory, group.base_offset)


def swap_in_cleaned_segments(log: Log, result: CleaningResult) -> bool:
    """Replace each group's old segments by its cleaned segment (event loop, no data I/O).

    Returns False, removing the cleaned files not yet swapped in, when the log changed under the
    round (a segment was deleted, truncated or became active); groups already swapped stay,
    each is a valid replacement on its own.
    """
    groups = result.groups
    for i, group in enumerate(groups):
        if not group.changed:
            continue
        try:
            if Path(log.dir) != group.directory:
                raise ValueError(f"the log moved to {log.dir}")
            log.replace_segments(group.old_segments, group.base_offset, group.old_sizes)
        except ValueError as exc:
            logger.info("[%s] Not swapping in cleaned segment %d: %s", log.topic_partition,
                        group.base_offset, exc)
            discard_cleaned_segments(groups[i:])
            return False
    return True


def complete_interrupted_swaps(directory: Path) -> None:
    """Finish a swap a crash interrupted (Kafka's LogLoader handling of ``.swap`` files).

    ``<base>.log.swap`` exists only once the cleaned segment is complete and fsynced, so it
    wins: the ``.log`` files whose base lies in its offset range (the segments it replaces) are
    deleted, its offset and time indexes are dropped (they are rebuilt from the log on first
    use) and it is renamed to ``<base>.log``. The transaction index cannot be rebuilt from the
    segment alone, so ``<base>.txnindex.swap`` replaces ``<base>.txnindex`` (and is removed if
    empty); without one, the final renames had begun, the old segments were already deleted
    and ``<base>.txnindex``, if any, is the new one. Other ``.swap`` files without their log
    (a swap interrupted before its commit point) are deleted.
    """
    directory = Path(directory)
    swaps = sorted(p for p in directory.iterdir() if p.name.endswith(SWAP_SUFFIX))
    logs = [p for p in swaps if p.name.endswith(LOG_SUFFIX + SWAP_SUFFIX)]
    txn_swaps = {p.name[:20] + TXN_INDEX_SUFFIX + SWAP_SUFFIX for p in logs}
    for path in swaps:
        if path not in logs and path.name not in txn_swaps:
            path.unlink(missing_ok=True)
    for swap in logs:
        base = int(swap.name[:20])
        fd = os.open(swap, os.O_RDONLY | os.O_CLOEXEC)
        try:
            next_offset = base
            for _, header in BatchScan(fd, 0, os.fstat(fd).st_size, verify_crc=False):
                next_offset = header.next_offset
        finally:
            os.close(fd)
        for entry in directory.iterdir():
            name = entry.name
            if name.endswith(LOG_SUFFIX) and len(name) == 20 + len(LOG_SUFFIX) \
                    and name[:20].isdigit() and base <= int(name[:20]) < max(next_offset,
                                                                              base + 1):
                entry.unlink()
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            (directory / segment_file_name(base, suffix)).unlink(missing_ok=True)
        txn_index = directory / segment_file_name(base, TXN_INDEX_SUFFIX)
        txn_swap = Path(f"{txn_index}{SWAP_SUFFIX}")
        if txn_swap.exists():
            os.replace(txn_swap, txn_index)
            if not txn_index.stat().st_size:
                txn_index.unlink()
        os.replace(swap, directory / segment_file_name(base, LOG_SUFFIX))
        logger.info("Completed the interrupted swap of cleaned segment %s", swap)
