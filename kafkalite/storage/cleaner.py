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
   below). The dirtiest log wins.
2. **Clean** (:meth:`CleaningJob.run`, a worker thread). It only reads closed segments through
   file handles pinned at step 1 (with the aborted transactions of the range, read there from
   the ``.txnindex`` files), and only writes new files, so produce and fetch go on. First the
   :class:`OffsetMap` ``key -> last offset`` is built over the dirty section, skipping aborted
   batches (stopping at a batch boundary when full, which ends the round early:
   ``end_offset``). Then every segment below ``end_offset`` is filtered, in groups of
   consecutive segments that fit one segment (``segment.bytes``, index sizes, 32-bit relative
   offsets), into ``<base>.log.cleaned`` plus its ``.index.cleaned``/``.timeindex.cleaned``,
   built exactly as recovery would build them, and ``.txnindex.cleaned`` (see transactions).
3. **Swap** (:func:`swap_in_cleaned_segments`, event loop): ``Log.replace_segments`` renames
   ``.cleaned`` to ``.swap`` (the ``.log`` last: the commit point), deletes the old segments
   (open descriptors, and so pinned fetch regions, stay valid) and renames ``.swap`` to the
   final names (again the ``.log`` last). A log that changed meanwhile (segments deleted or
   truncated) makes the round's cleaned files go away unused. After a crash,
   :func:`complete_interrupted_swaps` finishes a swap found on disk.
4. The checkpoint moves to ``end_offset``.

Which records survive (``should_retain_record``, Kafka 3.x rules):

- records above the offset map's range (``offset > latest_offset``) are kept as they are;
- a keyed record survives when no later offset holds its key, a keyless one never does
  (compacted topics reject them on produce: :func:`validate_compacted_records`);
- a tombstone (null value) survives until its batch's *delete horizon* passes. We use KIP-534's
  horizon, not the older segment-mtime rule: the first time a batch with a surviving tombstone
  is cleaned it is rewritten with attribute bit 6 set and ``baseTimestamp = now +
  delete.retention.ms`` (record timestamp deltas re-based so every record keeps its timestamp);
  a later round at or after that time drops the tombstone. The shell remembers the earliest
  horizon still pending, so a quiet log is re-cleaned when it passes (Kafka would wait for new
  dirty data; harmless extra work, documented as our choice).

Transactions (Kafka's CleanedTransactionMetadata). A round walks the log from its first segment
in offset order, knowing the aborted transactions ``(producer id, first offset, marker offset)``
that :meth:`Log.collect_aborted_transactions` reports for the range. A transactional data batch
lying inside one of its producer's aborted transactions is *aborted*: it never enters the offset
map (so it cannot shadow an older committed value of its keys) and it is dropped whole, even
above the map's range. Every other transactional batch is committed (everything below the LSO is
decided) and is compacted like any batch. A control batch (transaction marker) is kept while its
transaction still has a batch in the log below it: for an ABORT, a batch of that aborted
transaction seen this round; for a COMMIT, a transactional batch of its producer seen since the
producer's previous marker. Once it has none, it is treated like a tombstone: stamped with a
delete horizon (``delete.retention.ms``), then dropped by a round at or after it, so a consumer
that read the data has time to read the marker too. An empty control batch (a marker an earlier
round emptied) is dropped unless kept empty (below); a control batch that is not a COMMIT/ABORT
marker is kept.

Batches keep their identity: base offset, ``lastOffsetDelta`` (so offsets stay contiguous for
consumers and the producer's last sequence stays known), leader epoch, producer id, epoch and
base sequence, timestamp type and codec (filtered records are re-compressed with the batch's own
codec). Surviving records keep their bytes and offset deltas. A batch that loses nothing is
copied byte for byte. A batch that loses everything (aborted batches and expired markers
included) is dropped, except the last batch of the round and the batch holding a producer's last
data offset while that producer is still in the producer state (or, for a producer whose last
record is a marker, its markers of the current epoch): those are kept as empty batches
(``recordsCount`` 0), as Kafka does, so idempotence state, fencing and the last offset survive a
restart. A batch of an aborted transaction kept that way keeps its ABORT marker too.

The cleaned segment's ``.txnindex`` lists the aborted transactions whose ABORT marker survives
into it with its record, with their original entries (so ``last_stable_offset`` still bounds
searches). The cleaner always writes ``<base>.txnindex.cleaned``, empty when there is none, so
a ``.log.swap`` found after a crash always tells which transaction index belongs to it: its
``.txnindex.swap`` if present, otherwise the final rename had already begun, and the old
segments (with their indexes) were gone. An empty index file is removed once swapped in.

The offset map is a dict of exact key bytes (Kafka hashes keys with MD5 into a fixed buffer);
its capacity follows Kafka's ``log.cleaner.dedupe.buffer.size`` arithmetic.
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
import crc32c

from kafkalite.compression import compress, decompress
from kafkalite.errors import CorruptMessage, InvalidRecord
from kafkalite.records.batch import (
    CONTROL_MASK, DELETE_HORIZON_MASK, HEADER, LOG_APPEND_TIME, LOG_OVERHEAD, MAGIC_V2,
    RECORD_BATCH_OVERHEAD, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK, RecordBatchView,
)
from kafkalite.records.control import ControlType, parse_control_record
from kafkalite.records.record import decode_records
from kafkalite.records.varint import encode_varint, read_varint
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
_UINT32 = struct.Struct(">I")


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


# -- the offset map and the per-record decision ------------------------------------------------


class OffsetMap:
    """``key -> largest offset seen`` over the dirty section, plus the last offset it covers.

    ``latest_offset`` starts just below the first dirty offset and grows batch by batch, so a
    round that stops early (map full) knows which records it may judge: anything above
    ``latest_offset`` is kept untouched.
    """

    def __init__(self, capacity: int, *, start_offset: int = 0):
        self.capacity = capacity
        self.latest_offset = start_offset - 1
        self._offsets: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._offsets)

    def put(self, key: bytes, offset: int) -> None:
        self._offsets[key] = offset

    def get(self, key: bytes) -> int:
        """The key's last offset, or -1 when the dirty section does not hold it."""
        return self._offsets.get(key, -1)

    def update_latest_offset(self, offset: int) -> None:
        if offset > self.latest_offset:
            self.latest_offset = offset

    def has_room_for(self, records: int) -> bool:
        return len(self._offsets) + records <= self.capacity


def should_retain_record(offset: int, key: bytes | None, has_value: bool, offset_map: OffsetMap,
                         *, delete_horizon_ms: int | None, now_ms: int) -> bool:
    """Kafka's ``Cleaner.shouldRetainRecord`` for v2 batches (module docstring has the rules).

    ``delete_horizon_ms`` is the batch's stamped horizon, None when it has none yet.
    """
    if offset > offset_map.latest_offset:
        return True
    if key is None:
        return False
    if offset < offset_map.get(key):
        return False
    if has_value:
        return True
    return delete_horizon_ms is None or now_ms < delete_horizon_ms


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


# -- records inside a batch ----------------------------------------------------------------------


class _Record(NamedTuple):
    """One record of a batch, located in the (decompressed) records blob."""

    offset: int
    timestamp: int
    key: bytes | None
    has_value: bool
    start: int       # first byte of the record (its length varint)
    end: int         # one past its last byte
    rest: int        # first byte after timestampDelta (offsetDelta .. headers)
    attributes: int


def _records_blob(view: RecordBatchView) -> bytes:
    codec = view.compression
    return decompress(codec, view.records_data) if codec else bytes(view.records_data)


def _parse_records(view: RecordBatchView, data: bytes) -> list[_Record]:
    """Walk a batch's records far enough to know offset, timestamp, key and null-ness."""
    base_offset, base_timestamp = view.base_offset, view.base_timestamp
    count = view.records_count
    if count < 0:
        raise CorruptMessage(f"Negative record count {count} in the batch at {base_offset}")
    out: list[_Record] = []
    pos, end = 0, len(data)
    for _ in range(count):
        length, body = read_varint(data, pos)
        record_end = body + length
        if length <= 0 or record_end > end:
            raise CorruptMessage(f"Record length {length} overruns the batch at {base_offset}")
        ts_delta, p = read_varint(data, body + 1)
        rest = p
        offset_delta, p = read_varint(data, p)
        key_length, p = read_varint(data, p)
        key = None
        if key_length >= 0:
            key = data[p:p + key_length]
            p += key_length
        value_length, p = read_varint(data, p)
        if p > record_end or (value_length > 0 and p + value_length > record_end):
            raise CorruptMessage(f"Record fields overrun their record in the batch at "
                                 f"{base_offset}")
        out.append(_Record(base_offset + offset_delta, base_timestamp + ts_delta, key,
                           value_length >= 0, pos, record_end, rest, data[body]))
        pos = record_end
    if pos != end:
        raise CorruptMessage(f"{end - pos} bytes left after the records of the batch at "
                             f"{base_offset}")
    return out


def validate_compacted_records(views: Iterable[RecordBatchView], topic_partition: object
                               ) -> None:
    """Reject keyless records for a compacted topic (Kafka's LogValidator check).

    Decompresses and walks the records, so call it only for compacted topics.

    Raises:
        InvalidRecord: a record has a null key.
        CorruptMessage: undecodable records.
    """
    for view in views:
        if view.is_control:
            continue
        for record in _parse_records(view, _records_blob(view)):
            if record.key is None:
                raise InvalidRecord(f"Compacted topic cannot accept message without key in "
                                    f"topic partition {topic_partition}.")


# -- filtering one batch ------------------------------------------------------------------------


class FilteredBatch(NamedTuple):
    """The outcome for one batch: the bytes to write (None: drop it), whether they differ from
    the input, and the delete horizon of tombstones still in it (None: no pending tombstone)."""

    data: bytes | None
    changed: bool
    pending_horizon_ms: int | None
    records_read: int
    records_retained: int


def filter_batch(view: RecordBatchView, offset_map: OffsetMap, *, now_ms: int,
                 delete_retention_ms: int, retain_empty: bool) -> FilteredBatch:
    """Apply the retention rules to one batch (Kafka's ``MemoryRecords.filterTo`` per batch).

    Args:
        retain_empty: keep an empty batch if nothing survives (last batch of an active
            producer, or last batch of the round).
    """
    count = view.records_count
    if view.is_control or view.base_offset > offset_map.latest_offset:
        return FilteredBatch(bytes(view.buffer), False, None, count, count)
    if count == 0:
        return discard_batch(view, retain_empty=retain_empty)
    data = _records_blob(view)
    records = _parse_records(view, data)
    horizon = view.base_timestamp if view.has_delete_horizon else None
    retained = [r for r in records
                if should_retain_record(r.offset, r.key, r.has_value, offset_map,
                                        delete_horizon_ms=horizon, now_ms=now_ms)]
    has_tombstone = any(not r.has_value for r in retained)
    stamp = has_tombstone and horizon is None
    pending = (now_ms + delete_retention_ms if stamp else horizon) if has_tombstone else None
    if len(retained) == len(records) and not stamp:
        return FilteredBatch(bytes(view.buffer), False, pending, len(records), len(records))
    if not retained:
        empty = _empty_batch(view) if retain_empty else None
        return FilteredBatch(empty, True, None, len(records), 0)
    rebuilt = _rebuild_batch(view, data, retained,
                             new_horizon_ms=now_ms + delete_retention_ms if stamp else None)
    return FilteredBatch(rebuilt, True, pending, len(records), len(retained))


def discard_batch(view: RecordBatchView, *, retain_empty: bool) -> FilteredBatch:
    """Drop every record of a batch (an aborted transaction's batch, an expired marker, an empty
    batch): nothing is written, or an empty batch with ``retain_empty``."""
    count = view.records_count
    if count == 0 and retain_empty:
        return FilteredBatch(bytes(view.buffer), False, None, 0, 0)
    return FilteredBatch(_empty_batch(view) if retain_empty else None, True, None, count, 0)


def filter_control_batch(view: RecordBatchView, *, can_discard: bool, now_ms: int,
                         delete_retention_ms: int, retain_empty: bool) -> FilteredBatch:
    """Apply the marker rules to one control batch (module docstring, "Transactions").

    Args:
        can_discard: the marker's transaction has no batch left below it (or the batch is an
            empty control batch); it may then go once its delete horizon has passed.
        retain_empty: keep an empty batch instead of dropping it (as for :func:`filter_batch`).
    """
    count = view.records_count
    if count == 0:
        return discard_batch(view, retain_empty=retain_empty)
    if not can_discard:
        return FilteredBatch(bytes(view.buffer), False, None, count, count)
    if not view.has_delete_horizon:
        horizon = now_ms + delete_retention_ms
        data = _records_blob(view)
        rebuilt = _rebuild_batch(view, data, _parse_records(view, data),
                                 new_horizon_ms=horizon)
        return FilteredBatch(rebuilt, True, horizon, count, count)
    if now_ms < view.base_timestamp:
        return FilteredBatch(bytes(view.buffer), False, view.base_timestamp, count, count)
    return discard_batch(view, retain_empty=retain_empty)


def _control_type(view: RecordBatchView) -> int | None:
    """The control record type of a control batch, None when it has no record.

    Raises:
        CorruptMessage: the record is not a readable control record.
    """
    records = decode_records(view)
    return parse_control_record(records[0]).type if records else None


def _rebuild_batch(view: RecordBatchView, data: bytes, retained: Sequence[_Record], *,
                   new_horizon_ms: int | None) -> bytes:
    """The batch with only ``retained`` records, same base offset and lastOffsetDelta.

    With ``new_horizon_ms`` the delete-horizon bit is set and baseTimestamp becomes the horizon;
    every record's timestampDelta is re-encoded against it so record timestamps do not change.
    Otherwise the records' bytes are copied as they are.
    """
    attributes = view.attributes
    base_timestamp = view.base_timestamp
    if new_horizon_ms is None:
        blob = b"".join(data[r.start:r.end] for r in retained)
    else:
        attributes |= DELETE_HORIZON_MASK
        base_timestamp = new_horizon_ms
        parts = []
        for r in retained:
            body = (bytes((r.attributes,)) + encode_varint(r.timestamp - base_timestamp)
                    + data[r.rest:r.end])
            parts.append(encode_varint(len(body)) + body)
        blob = b"".join(parts)
    if view.compression:
        blob = compress(view.compression, blob)
    if view.timestamp_type == LOG_APPEND_TIME:
        max_timestamp = view.max_timestamp
    else:
        max_timestamp = max(r.timestamp for r in retained)
    return _pack(view, attributes, base_timestamp, max_timestamp, len(retained), blob)


def _empty_batch(view: RecordBatchView) -> bytes:
    """Kafka's ``writeEmptyHeader``: no records, same offsets and producer fields, no codec."""
    attributes = view.attributes & (TIMESTAMP_TYPE_MASK | TRANSACTIONAL_MASK | CONTROL_MASK)
    return _pack(view, attributes, view.max_timestamp, view.max_timestamp, 0, b"")


def _pack(view: RecordBatchView, attributes: int, base_timestamp: int, max_timestamp: int,
          count: int, blob: bytes) -> bytes:
    buf = bytearray(RECORD_BATCH_OVERHEAD + len(blob))
    HEADER.pack_into(buf, 0, view.base_offset, len(buf) - LOG_OVERHEAD,
                     view.partition_leader_epoch, MAGIC_V2, 0, attributes,
                     view.last_offset_delta, base_timestamp, max_timestamp, view.producer_id,
                     view.producer_epoch, view.base_sequence, count)
    buf[RECORD_BATCH_OVERHEAD:] = blob
    _UINT32.pack_into(buf, 17, crc32c.crc32c(memoryview(buf)[21:]))
    return bytes(buf)


# -- transactions during a round -----------------------------------------------------------------


class _TransactionMetadata:
    """What a round knows of transactions while it walks the log in offset order (Kafka's
    CleanedTransactionMetadata; the rules are in the module docstring).

    ``aborted`` are the aborted transactions overlapping the walked range. A transactional data
    batch is aborted when it lies between the first offset and the marker of one of its
    producer's aborted transactions: a pure range test, so batches may be skipped (the offset
    map starts at the first dirty offset). Which markers still have data is learnt from the
    batches :meth:`on_data_batch` sees, so that needs every batch from the log start.
    """

    def __init__(self, aborted: Iterable[AbortedTxn]):
        self._aborted: dict[int, list[AbortedTxn]] = {}  # producer id -> by first offset
        for txn in sorted(set(aborted), key=lambda t: t.first_offset):
            self._aborted.setdefault(txn.producer_id, []).append(txn)
        self._firsts = {pid: [t.first_offset for t in txns]
                        for pid, txns in self._aborted.items()}
        self._by_marker = {t.last_offset: t for txns in self._aborted.values() for t in txns}
        self._aborted_with_data: set[int] = set()   # marker offsets
        self._committed_with_data: set[int] = set()  # producer ids, until their next marker

    def aborted_txn(self, view: RecordBatchView) -> AbortedTxn | None:
        """The aborted transaction a data batch belongs to, None for any other batch."""
        if view.is_control or not view.is_transactional:
            return None
        pid = view.producer_id
        firsts = self._firsts.get(pid)
        if firsts is None:
            return None
        i = bisect.bisect_right(firsts, view.base_offset) - 1
        if i < 0:
            return None
        txn = self._aborted[pid][i]
        return txn if view.last_offset < txn.last_offset else None

    def on_data_batch(self, view: RecordBatchView) -> bool:
        """Note a data batch; True when it belongs to an aborted transaction."""
        txn = self.aborted_txn(view)
        if txn is not None:
            self._aborted_with_data.add(txn.last_offset)
            return True
        if view.is_transactional:
            self._committed_with_data.add(view.producer_id)
        return False

    def on_control_batch(self, view: RecordBatchView, control_type: int | None
                         ) -> tuple[bool, AbortedTxn | None]:
        """Note a control batch (``control_type`` None: it has no record). Returns whether it
        may be discarded (its transaction has no data left) and, for an ABORT marker, the
        aborted transaction it ends (None when the index does not know it)."""
        pid, offset = view.producer_id, view.base_offset
        if control_type is None:
            return True, None
        if control_type not in (ControlType.ABORT, ControlType.COMMIT):
            return False, None
        committed_data = pid in self._committed_with_data
        self._committed_with_data.discard(pid)
        if control_type == ControlType.COMMIT:
            return not committed_data, None
        txn = self._by_marker.get(offset)
        if txn is not None and txn.producer_id != pid:
            txn = None
        aborted_data = offset in self._aborted_with_data
        self._aborted_with_data.discard(offset)
        # Data taken for committed before an ABORT means the index lacks this transaction:
        # keep the marker, the only record left of what happened.
        return not aborted_data and not committed_data, txn


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
