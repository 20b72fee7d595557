"""One partition's log: an ordered list of segments in ``<log_dir>/<topic>-<partition>/``.

Invariants:

- Segments are sorted by base offset; the last one is the *active* segment and the only one
  appended to. Every batch of segment i has offsets in ``[base_i, base_{i+1})``.
- ``log_end_offset`` (LEO) is the offset the next appended record gets;
  ``log_start_offset <= LEO``. Offsets below ``log_start_offset`` are not readable even if their
  segment still exists. The high watermark belongs to the replication layer, not here.
- ``recovery_point``: every offset below it is fsynced. After a crash, segments from the one
  containing the recovery point onward are re-verified and cut at the first invalid batch.

Opening the log (scanning the directory, recovery, loading the leader-epoch cache and the
producer state) is ``storage/log_loader.py`` (Kafka's LogLoader).

Reads return *regions* ``(fd, position, size)`` of whole batches for ``os.sendfile``. Bytes below a
segment's tracked size are never rewritten by appends, so regions stay valid while the log grows;
the :class:`FetchDataInfo` keeps the segment descriptors alive even if a segment is deleted.

Everything runs on the broker's one trio thread (architecture.md §1): no locks. Only the fsyncs
of a flush leave it: :meth:`Log.begin_flush` plans them on the loop (pinning the descriptors),
:meth:`FlushJob.run` may run in a worker thread while appends, retention and even deletion go on,
and :meth:`Log.complete_flush` moves the recovery point on the loop afterwards — unless the log
was truncated meanwhile, since re-appended offsets below the planned point were not synced.

Retention (``storage/retention.py`` decides, ``server/log_service.py`` drives) removes whole
segments from the front with :meth:`Log.delete_segments`; their files are renamed ``.deleted``
and unlinked later by the caller, and the log start offset moves to the first remaining segment.

Producer state (``storage/producer_state.py``: idempotence, open transactions, the last stable
offset) follows every append; ABORT markers add entries to their segment's transaction index.
It is snapshotted (``<offset>.snapshot``) at every roll and on close, so opening (see
``log_loader.py``) replays only the batches after the newest snapshot.

The leader-epoch cache (``storage/leader_epoch.py``) follows the log: appends record where a new
``partitionLeaderEpoch`` begins (one comparison per batch), truncations and log-start moves cut
it, and it is checkpointed whenever it changes. Opening loads it and repairs a missing or stale
checkpoint (``log_loader.py``).
"""

from __future__ import annotations

import bisect
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import attrs

from kafkalite.errors import (
    CorruptMessage, MessageTooLarge, OffsetOutOfRange, RecordListTooLarge,
)
from kafkalite.model import TopicPartition
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.control import parse_control_record
from kafkalite.records.record import decode_records
from kafkalite.storage._batch_header import (
    HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, TIMESTAMP_TYPE_BIT, BatchHeader, batch_crc_ok,
    parse_header, set_leader_fields, set_log_append_time,
)
from kafkalite.storage.checkpoint import fsync_dir
from kafkalite.storage.config import LogConfig
from kafkalite.storage.leader_epoch import LEADER_EPOCH_CHECKPOINT, LeaderEpochCache
from kafkalite.storage.producer_snapshot import list_snapshots, snapshot_path, write_snapshot
from kafkalite.storage.producer_state import (
    AppendOrigin, Duplicate, ProducerBatch, ProducerStateManager,
)
from kafkalite.storage.retention import time_to_roll
from kafkalite.storage.segment import (
    INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, FileHandle, LogSegment, TimestampAndOffset,
    segment_file_name,
)
from kafkalite.storage.txn_index import TXN_INDEX_SUFFIX, AbortedTxn

__all__ = ["Log", "AppendInfo", "FetchDataInfo", "FlushJob", "UnexpectedAppendOffset",
           "parse_topic_partition"]

logger = logging.getLogger(__name__)


class UnexpectedAppendOffset(ValueError):
    """A follower append does not continue the log (first offset below the log end)."""


class AppendInfo(NamedTuple):
    """What an append did (Kafka's LogAppendInfo, the fields the Produce response needs).

    ``offset_of_max_timestamp`` is batch-grained like Kafka's shallow offset: the last offset of
    the first batch carrying the largest max timestamp. A NamedTuple, not an attrs class:
    one is made per produce, and a frozen attrs instance costs several times as much.
    """

    first_offset: int
    last_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    log_append_time_ms: int = -1
    valid_bytes: int = 0


@attrs.frozen
class FetchDataInfo:
    """Whole batches to send: ``regions`` of ``(fd, position, size)``, ``size`` bytes in all.

    ``handles`` keeps the descriptors open until this object is dropped, so send the regions
    before letting go of it.
    """

    regions: list[tuple[int, int, int]] = attrs.field(factory=list)
    size: int = 0
    handles: tuple[FileHandle, ...] = ()


@attrs.frozen
class FlushJob:
    """The fsyncs of one flush, planned by :meth:`Log.begin_flush` on the event loop.

    :meth:`run` touches only what it holds — pinned ``.log`` descriptors, index and directory
    paths — so it is safe in a worker thread while the log changes: a segment deleted meanwhile
    keeps its descriptor open until the job is dropped, and index files renamed or removed
    meanwhile are skipped (their data is below the log start offset anyway).
    """

    up_to: int
    generation: int
    handles: tuple[FileHandle, ...] = ()
    index_paths: tuple[Path, ...] = ()
    directory: Path | None = None

    def run(self) -> None:
        for handle in self.handles:
            fd = handle.fd
            if fd >= 0:
                os.fsync(fd)
        for path in self.index_paths:
            _fsync_path(path)
        if self.directory is not None:
            try:
                fsync_dir(self.directory)
            except FileNotFoundError:
                pass  # the log was deleted (its directory renamed) meanwhile


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_topic_partition(name: str) -> TopicPartition:
    """``my-topic-3`` -> TopicPartition("my-topic", 3); the partition follows the LAST '-'."""
    topic, sep, partition = name.rpartition("-")
    if not sep or not topic or not partition.isdigit():
        raise ValueError(f"Directory name {name!r} is not <topic>-<partition>")
    return TopicPartition(topic, int(partition))


class Log:
    """One partition's segments; see the module docstring. Create with :meth:`open`."""

    def __init__(self, directory: Path, config: LogConfig, segments: list[LogSegment], *,
                 log_start_offset: int, recovery_point: int,
                 leader_epoch_cache: LeaderEpochCache | None = None):
        self.dir = Path(directory)
        self.config = config
        self.topic_partition = parse_topic_partition(self.dir.name)
        self._segments = segments
        self._bases = [s.base_offset for s in segments]
        self._log_end_offset = segments[-1].next_offset
        self.log_start_offset = log_start_offset
        self.recovery_point = recovery_point
        self.producer_state = ProducerStateManager()
        self.leader_epoch_cache = (leader_epoch_cache if leader_epoch_cache is not None
                                   else LeaderEpochCache(self.dir / LEADER_EPOCH_CHECKPOINT))
        self._closed = False
        self._dir_dirty = False
        self._last_flush_ms: int | None = None
        # bumped by truncation: a flush planned before it must not move the recovery point
        self._generation = 0

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, config: LogConfig, *, recovery_point: int = 0,
             clean_shutdown: bool = True, log_start_offset: int | None = None) -> Log:
        """Load (and, after a crash, recover) the log in ``directory``, creating it if needed.

        Args:
            recovery_point: offsets below it were fsynced (recovery-point checkpoint).
            clean_shutdown: the broker stopped cleanly (``.kafka_cleanshutdown`` existed). Only
                the active segment's tail is checked then; otherwise segments from the one
                holding ``recovery_point`` on are fully re-verified and a torn tail is cut.
            log_start_offset: from the log-start-offset checkpoint (default: first segment base).

        The steps are described in ``storage/log_loader.py``.
        """
        from kafkalite.storage.log_loader import load_log  # log_loader imports log
        return load_log(cls, directory, config, recovery_point=recovery_point,
                        clean_shutdown=clean_shutdown, log_start_offset=log_start_offset)

    # -- properties ---------------------------------------------------------------------------

    @property
    def log_end_offset(self) -> int:
        return self._log_end_offset

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        return tuple(self._segments)

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    @property
    def size(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def latest_epoch(self) -> int | None:
        """The newest leader epoch in the log (None: no batch carried one)."""
        return self.leader_epoch_cache.latest_epoch

    def end_offset_for_epoch(self, leader_epoch: int) -> tuple[int, int]:
        """``(epoch, end_offset)`` for OffsetForLeaderEpoch: the largest epoch <= the requested
        one and the offset where it ends in this log (the log end offset for the latest epoch);
        ``(-1, -1)`` when undefined. See :meth:`LeaderEpochCache.end_offset_for`."""
        return self.leader_epoch_cache.end_offset_for(leader_epoch, self._log_end_offset)

    def assign_epoch_start_offset(self, leader_epoch: int, start_offset: int) -> bool:
        """Record that ``leader_epoch`` starts at ``start_offset`` (Kafka's
        maybeAssignEpochStartOffset: a new leader calls it with its log end offset, so the
        epoch is known before its first append). Ignored unless newer than the latest epoch;
        returns True if the cache changed.

        The checkpoint is not written here but marked dirty, and written soon after (the log
        service's periodic pass, :meth:`write_dirty_epoch_checkpoint`), by the next flush of
        the cache, or when the log closes. The entry added here starts at the log end, so
        after a crash loading drops it (entries at or past the log end go) unless batches of
        that epoch were appended, and those carry the epoch in their headers, from which
        loading rebuilds a cache that is behind the data: the file written now would buy
        nothing after a crash, and writing it (a temporary file and a rename) for every
        partition held up a broker that takes thousands of leaderships at once."""
        self._check_open()
        if self.leader_epoch_cache.assign(leader_epoch, start_offset):
            self.leader_epoch_cache.dirty = True
            return True
        return False

    def write_dirty_epoch_checkpoint(self) -> bool:
        """Write the leader-epoch checkpoint if an epoch was assigned without writing it
        (no fsync: see :meth:`assign_epoch_start_offset`). True if it was written."""
        if self._closed or not self.leader_epoch_cache.dirty:
            return False
        self.leader_epoch_cache.flush(durable=False)
        return True

    def __repr__(self) -> str:
        return (f"Log({self.topic_partition}, start={self.log_start_offset}, "
                f"end={self._log_end_offset}, segments={len(self._segments)})")

    # -- append -------------------------------------------------------------------------------

    def check_duplicate(self, producer_id: int, producer_epoch: int, base_sequence: int,
                        last_sequence: int) -> Duplicate | None:
        """Idempotence check of a client batch before :meth:`append_as_leader`; see
        :meth:`ProducerStateManager.check` for the answers and errors."""
        return self.producer_state.check(producer_id, producer_epoch, base_sequence,
                                         last_sequence)

    # -- producer state and transactions ----------------------------------------------------

    def last_stable_offset(self, high_watermark: int) -> int:
        """The LSO: read_committed consumers read below it (see producer_state.py)."""
        return self.producer_state.last_stable_offset(high_watermark)

    def on_high_watermark_updated(self, high_watermark: int) -> None:
        self.producer_state.on_high_watermark_updated(high_watermark)

    def collect_aborted_transactions(self, fetch_offset: int,
                                     upper_bound: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping ``[fetch_offset, upper_bound)``, from the
        transaction indexes of the segments from ``fetch_offset`` on (Kafka's
        collectAbortedTransactions; the search stops once an entry's LSO passes the bound)."""
        self._check_open()
        found: list[AbortedTxn] = []
        for segment in self._segments[self._segment_index(fetch_offset):]:
            txns, complete = segment.txn_index.collect(fetch_offset, upper_bound)
            found.extend(txns)
            if complete:
                break
        return found

    def remove_expired_producers(self, now_ms: int, expiration_ms: int) -> list[int]:
        """``producer.id.expiration.ms``: forget idle producers without an open transaction."""
        return self.producer_state.remove_expired(now_ms, expiration_ms)

    def take_snapshot(self) -> None:
        """Write ``<map end offset>.snapshot`` unless the last one is at that offset already."""
        state = self.producer_state
        offset = state.map_end_offset
        if offset <= state.last_snapshot_offset or self._closed:
            return
        write_snapshot(snapshot_path(self.dir, offset), list(state.producers.values()))
        state.last_snapshot_offset = offset

    def append_as_leader(self, batches: Sequence[tuple[memoryview, int]], *, leader_epoch: int,
                         now_ms: int, log_append_time: bool | None = None,
                         origin: AppendOrigin = AppendOrigin.CLIENT) -> AppendInfo:
        """Assign offsets to validated client batches in place and append them.

        Each element is ``(writable memoryview of one whole batch, its record count =
        lastOffsetDelta + 1)``; each header is parsed and checked here. The produce path,
        whose validator parsed the headers already, calls
        :meth:`append_validated_as_leader` directly; see there for what is patched.

        Raises:
            MessageTooLarge: a batch is larger than ``max.message.bytes``.
            RecordListTooLarge: the batches together are larger than ``segment.bytes``.
            CorruptMessage: a buffer is not exactly one v2 batch.
            OutOfOrderSequenceNumber, InvalidProducerEpoch, DuplicateSequenceNumber,
                InvalidTxnState, TransactionCoordinatorFenced: producer state refused the append
                (checks per ``origin``, see producer_state.py); nothing is written then.
        """
        self._check_open()
        if not batches:
            raise ValueError("append_as_leader needs at least one batch")
        headers = []
        for view, count in batches:
            header = _parse_one(view)
            if count != header.last_offset_delta + 1:
                raise ValueError(f"Record count {count} disagrees with lastOffsetDelta "
                                 f"{header.last_offset_delta}")
            headers.append(header)
        return self.append_validated_as_leader(
            [view for view, _ in batches], headers, leader_epoch=leader_epoch, now_ms=now_ms,
            log_append_time=log_append_time, origin=origin)

    def append_validated_as_leader(self, buffers: Sequence[memoryview], headers: Sequence[tuple],
                                   *, leader_epoch: int, now_ms: int,
                                   log_append_time: bool | None = None,
                                   origin: AppendOrigin = AppendOrigin.CLIENT) -> AppendInfo:
        """Append batches whose headers the caller parsed and checked already (the produce
        path: ``validate_batches(..., headers=...)``), so none is parsed twice.

        ``buffers[i]`` is a writable memoryview of exactly one whole v2 batch and
        ``headers[i]`` its 61-byte header as parsed (a ``BatchHeader`` or the plain
        ``HEADER.unpack_from`` tuple). baseOffset and partitionLeaderEpoch are patched in place
        (outside the CRC); with LogAppendTime (``log_append_time``, default: the topic's
        ``message.timestamp.type``) also the timestamp-type bit and maxTimestamp, and the CRC is
        recomputed. All batches go to one segment with one ``pwritev``; no bytes are copied.
        Producer state is consulted only when a batch carries a producer id.

        Raises: as :meth:`append_as_leader`, except CorruptMessage (the caller checked).
        """
        if self._closed:
            self._check_open()
        if not headers:
            raise ValueError("append_as_leader needs at least one batch")
        config = self.config
        if log_append_time is None:
            log_append_time = config.log_append_time
        max_message_bytes = config.max_message_bytes
        first = offset = self._log_end_offset
        patched: list[BatchHeader] = []
        total = 0
        max_ts = -1
        offset_of_max = first + headers[0][6]
        has_producer_id = False
        for raw in headers:
            size = raw[1] + LOG_OVERHEAD
            if size > max_message_bytes:
                raise MessageTooLarge(f"The batch of {size} bytes exceeds "
                                      f"max.message.bytes {max_message_bytes}")
            total += size
            last = offset + raw[6]
            if log_append_time:
                header = _new_tuple(BatchHeader, (
                    offset, raw[1], leader_epoch, raw[3], raw[4], raw[5] | TIMESTAMP_TYPE_BIT,
                    raw[6], raw[7], now_ms, raw[9], raw[10], raw[11], raw[12]))
            else:
                header = _new_tuple(BatchHeader, (offset, raw[1], leader_epoch, *raw[3:]))
            if header[8] > max_ts:
                max_ts, offset_of_max = header[8], last
            if raw[9] >= 0:
                has_producer_id = True
            patched.append(header)
            offset = last + 1
        if total > config.segment_bytes:
            raise RecordListTooLarge(f"{total} bytes of batches exceed segment.bytes "
                                     f"{config.segment_bytes}")
        state = self.producer_state
        plan = state.prepare(
            [ProducerBatch.from_header(h, _marker(view) if h.attributes & _CONTROL else None)
             for view, h in zip(buffers, patched) if h.producer_id >= 0],
            origin, offset) if has_producer_id else None
        for view, header in zip(buffers, patched):
            set_leader_fields(view, header[0], header[1], leader_epoch)
            if log_append_time:
                set_log_append_time(view, now_ms)
        self._append(buffers, patched, now_ms, total, max_ts)
        if plan is not None:
            self._index_aborted(state.apply(plan))
        elif state.map_end_offset < offset:
            state.map_end_offset = offset  # what apply() of an empty plan does
        epochs = self.leader_epoch_cache
        if epochs.assign(leader_epoch, first):
            epochs.flush()
        elif epochs.dirty:   # the epoch's first batch: its entry goes out with it
            epochs.flush(durable=False)
        return AppendInfo(first, offset - 1, max_ts, offset_of_max,
                          now_ms if log_append_time else -1, total)

    def append_as_follower(self, buf: memoryview, *, now_ms: int | None = None) -> AppendInfo:
        """Append batches fetched from the leader (offsets already assigned).

        ``buf`` holds v2 batches whose CRCs match and whose offsets increase and start at or
        after the log end offset (gaps are fine: compacted leaders). A trailing incomplete batch
        is ignored, as Kafka's follower does with a fetch response cut at the size limit;
        ``valid_bytes`` of the result says how much was appended. Batches are split over
        segments as needed. Producer state is updated without checks.

        Raises:
            CorruptMessage: bad magic, length or CRC, offsets not increasing.
            UnexpectedAppendOffset: the first offset is below the log end offset.
            RecordListTooLarge: one batch is larger than ``segment.bytes``.
        """
        self._check_open()
        view = memoryview(buf).cast("B")
        headers: list[BatchHeader] = []
        pos, expected = 0, self._log_end_offset
        latest_epoch = self.leader_epoch_cache.latest_epoch
        latest_epoch = -1 if latest_epoch is None else latest_epoch
        new_epochs: list[tuple[int, int]] = []
        while view.nbytes - pos >= HEADER_SIZE:
            header = parse_header(view, pos)
            if header.magic != MAGIC_V2 or header.size < HEADER_SIZE or \
                    header.last_offset_delta < 0:
                raise CorruptMessage(f"Invalid batch at byte {pos} of a follower append")
            if pos + header.size > view.nbytes:
                break
            if not batch_crc_ok(view[pos:pos + header.size]):
                raise CorruptMessage(f"CRC mismatch in the batch at offset {header.base_offset}")
            if header.base_offset < expected:
                if not headers:
                    raise UnexpectedAppendOffset(
                        f"[{self.topic_partition}] Follower append at offset "
                        f"{header.base_offset} is below the log end offset {expected}")
                raise CorruptMessage(f"Offset {header.base_offset} does not increase")
            if header.size > self.config.segment_bytes:
                raise RecordListTooLarge(f"Batch of {header.size} bytes exceeds segment.bytes")
            headers.append(header)
            pos += header.size
            expected = header.next_offset
            if header.partition_leader_epoch > latest_epoch:
                latest_epoch = header.partition_leader_epoch
                new_epochs.append((latest_epoch, header.base_offset))
        if not headers:
            return AppendInfo(first_offset=self._log_end_offset,
                              last_offset=self._log_end_offset - 1, max_timestamp=-1,
                              offset_of_max_timestamp=-1)
        start = chunk_size = 0
        chunk: list[BatchHeader] = []
        for header in headers:
            if chunk and chunk_size + header.size > self.config.segment_bytes:
                self._append_replicated(view, start, chunk_size, chunk, now_ms)
                start, chunk_size, chunk = start + chunk_size, 0, []
            chunk.append(header)
            chunk_size += header.size
        self._append_replicated(view, start, chunk_size, chunk, now_ms)
        if new_epochs:
            changed = False
            for epoch, base_offset in new_epochs:
                changed = self.leader_epoch_cache.assign(epoch, base_offset) or changed
            if changed:
                self.leader_epoch_cache.flush()
        return _append_info(headers, pos)

    def _append_replicated(self, view: memoryview, start: int, size: int,
                           headers: list[BatchHeader], now_ms: int | None) -> None:
        """Write one chunk of a follower append (one segment) and replay it into the producer
        state, chunk by chunk so a roll's snapshot never lacks an earlier chunk."""
        batches = view[start:start + size]
        producer_batches = []
        pos = 0
        for h in headers:
            if h.producer_id >= 0:
                marker = _marker(batches[pos:pos + h.size]) if h.attributes & _CONTROL else None
                producer_batches.append(ProducerBatch.from_header(h, marker))
            pos += h.size
        self._append([batches], headers, now_ms)
        self._index_aborted(self.producer_state.replay(producer_batches, self._log_end_offset))

    def _append(self, buffers: list, headers: list[BatchHeader], now_ms: int | None,
                size: int | None = None, max_timestamp: int | None = None) -> None:
        """Write whole batches to the active segment, rolling first if needed. ``size`` and
        ``max_timestamp`` (of all ``headers``) when the caller has them already."""
        if size is None:
            size = sum(h.size for h in headers)
            max_timestamp = max(h.max_timestamp for h in headers)
        last = headers[-1]
        next_offset = last[0] + last[6] + 1
        active = self._segments[-1]
        if active.should_roll(size=size, max_timestamp=max_timestamp, max_offset=next_offset - 1,
                              now_ms=now_ms):
            self._roll(max(headers[0].base_offset, self._log_end_offset), now_ms)
            active = self._segments[-1]
        active.append(buffers, headers, size)
        self._log_end_offset = next_offset

    def _index_aborted(self, aborted: list[AbortedTxn]) -> None:
        """Record aborted transactions in the index of the segment holding their marker;
        entries already there (a replay over indexed data) are skipped."""
        for txn in aborted:
            index = self.segment_for(txn.last_offset).txn_index
            entries = index.entries
            if not entries or txn.last_offset > entries[-1].last_offset:
                index.append(txn)

    def _roll(self, new_base: int, now_ms: int | None) -> LogSegment:
        # Kafka snapshots producer state at every roll, so opening replays one segment at most.
        self.producer_state.map_end_offset = max(self.producer_state.map_end_offset, new_base)
        self.take_snapshot()
        active = self.active_segment
        if active.size == 0:
            # Nothing to keep (e.g. a follower jumping over an offset gap): replace it.
            active.delete()
            self._segments.pop()
            self._bases.pop()
        else:
            active.on_become_inactive()
        segment = LogSegment.create(self.dir, new_base, self.config, now_ms=now_ms)
        self._segments.append(segment)
        self._bases.append(new_base)
        self._dir_dirty = True
        logger.info("[Log partition=%s, dir=%s] Rolled new log segment at offset %d",
                    self.topic_partition, self.dir.parent, new_base)
        return segment

    def roll(self, now_ms: int | None = None) -> LogSegment:
        """Force a new active segment at the log end offset (no-op if the active one is empty)."""
        self._check_open()
        if self.active_segment.size == 0:
            return self.active_segment
        return self._roll(self._log_end_offset, now_ms)

    # -- read ---------------------------------------------------------------------------------

    def read(self, fetch_offset: int, max_bytes: int, *, max_offset: int | None = None,
             min_one_batch: bool = True) -> FetchDataInfo:
        """Whole batches from the one containing ``fetch_offset``, for sendfile.

        Batches whose base offset >= ``max_offset`` (the high watermark for consumers; default
        the log end offset) are never included. At most ``max_bytes`` bytes, except that with
        ``min_one_batch`` the first batch is returned whole when nothing fits (KIP-74). Regions
        may span segments.

        Raises:
            OffsetOutOfRange: ``fetch_offset`` < log start offset or > log end offset.
        """
        self._check_open()
        if fetch_offset < self.log_start_offset or fetch_offset > self._log_end_offset:
            raise OffsetOutOfRange(
                f"Received request for offset {fetch_offset} for partition "
                f"{self.topic_partition}, but we only have log segments in the range "
                f"{self.log_start_offset} to {self._log_end_offset}.")
        max_offset = self._log_end_offset if max_offset is None else min(max_offset,
                                                                          self._log_end_offset)
        regions: list[tuple[int, int, int]] = []
        handles: list[FileHandle] = []
        total = 0
        i = self._segment_index(fetch_offset)
        start_offset = fetch_offset
        while i < len(self._segments) and start_offset < max_offset:
            if total >= max_bytes and (regions or not min_one_batch):
                break
            segment = self._segments[i]
            last = i + 1 == len(self._segments)
            if (self._bases[i + 1] <= max_offset if not last
                    else max_offset >= self._log_end_offset):
                max_position = segment.size
            else:
                max_position = segment.max_position_for(max_offset)
            region = segment.read_region(start_offset, max_bytes - total, max_position,
                                         min_one_batch=min_one_batch and not regions)
            if region is not None:
                position, size = region
                if size:
                    regions.append((segment.fd, position, size))
                    handles.append(segment.file_handle)
                    total += size
                if position + size < max_position:
                    break
            i += 1
            if i < len(self._segments):
                start_offset = self._bases[i]
        return FetchDataInfo(regions, total, tuple(handles))

    def _segment_index(self, offset: int) -> int:
        return max(bisect.bisect_right(self._bases, offset) - 1, 0)

    def segment_for(self, offset: int) -> LogSegment:
        """The segment whose range holds ``offset`` (the first one for offsets below it)."""
        return self._segments[self._segment_index(offset)]

    def fetch_offset_by_timestamp(self, timestamp: int) -> TimestampAndOffset | None:
        """ListOffsets by time: the first record (in offset order, at or after the log start
        offset) whose timestamp is >= ``timestamp``; None if there is none.

        Record precision, as Kafka: record timestamps may go backwards within a partition
        (producer-set CreateTime) and a batch's max timestamp may sit in any of its records, so
        the first segment whose max timestamp reaches the target is searched with its time
        index, then batch by batch, decoding the records of candidate batches
        (:meth:`LogSegment.find_offset_by_timestamp`). Latest (-1) and earliest (-2) are the
        caller's (they involve the high watermark).
        """
        self._check_open()
        for segment in self._segments[self._segment_index(self.log_start_offset):]:
            if segment.max_timestamp >= timestamp:
                found = segment.find_offset_by_timestamp(timestamp, self.log_start_offset)
                if found is not None:
                    return found
        return None

    def max_timestamp_and_offset(self) -> tuple[int, int] | None:
        """``(timestamp, offset)`` for ListOffsets MAX_TIMESTAMP (KIP-734), None if no batch of
        the readable log carries a timestamp.

        Batch granularity, as Kafka 3.0's KIP-734 implementation: the offset is the last offset
        of the first batch that reached the largest timestamp (what the time index records).
        """
        self._check_open()
        best: tuple[int, int] | None = None
        for segment in self._segments[self._segment_index(self.log_start_offset):]:
            if segment.size and segment.max_timestamp >= 0 and (
                    best is None or segment.max_timestamp > best[0]):
                best = (segment.max_timestamp,
                        max(segment.offset_of_max_timestamp, self.log_start_offset))
        return best

    def _all_batches(self) -> Iterator[tuple[int, BatchHeader]]:
        for segment in self._segments:
            yield from segment.batches()

    # -- truncation, flush, lifecycle ---------------------------------------------------------

    def truncate_to(self, offset: int) -> bool:
        """Remove every batch that ends at or after ``offset`` (a follower diverged).

        Batches are removed whole, so the new log end offset is the end of the last batch
        before ``offset``. Returns False if there was nothing to truncate.

        At or past the log end no data goes, but leader epochs starting at the log end do, as
        in Kafka: a broker that became leader recorded its epoch's start before writing any
        batch; as a follower that epoch, which has no data here, must not stay its latest
        (OffsetForLeaderEpoch would keep asking about it and never finish truncating).
        """
        self._check_open()
        if offset >= self._log_end_offset:
            # No fsync: the epochs dropped start at the log end, and loading drops those
            # anyway (as for assign_epoch_start_offset). Two fsyncs per partition here held up
            # a broker that became follower of thousands of partitions at once for seconds.
            if self.leader_epoch_cache.truncate_from_end(self._log_end_offset):
                self.leader_epoch_cache.flush(durable=False)
            return False
        if offset <= self._bases[0] or offset < self.log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return True
        self._generation += 1
        while self._bases[-1] > offset:
            self._segments.pop().delete()
            self._bases.pop()
            self._dir_dirty = True
        truncated = self.active_segment.truncate_to(offset)
        self._log_end_offset = self.active_segment.next_offset
        self.recovery_point = min(self.recovery_point, self._log_end_offset)
        if self.leader_epoch_cache.truncate_from_end(self._log_end_offset):
            self.leader_epoch_cache.flush()
        from kafkalite.storage.log_loader import load_producer_state  # log_loader imports log
        load_producer_state(self, self._log_end_offset)
        logger.info("[Log partition=%s, dir=%s] Truncating to offset %d (%d bytes of the "
                    "active segment); log end offset now %d", self.topic_partition,
                    self.dir.parent, offset, truncated, self._log_end_offset)
        return True

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete every segment and restart the log, empty, at ``offset``."""
        self._check_open()
        self._generation += 1
        for segment in self._segments:
            segment.delete()
        self._segments = [LogSegment.create(self.dir, offset, self.config)]
        self._bases = [offset]
        self._dir_dirty = True
        self._log_end_offset = self.log_start_offset = self.recovery_point = offset
        self.producer_state.clear(offset)
        for path in list_snapshots(self.dir).values():
            path.unlink(missing_ok=True)
        self.producer_state.last_snapshot_offset = -1
        if self.leader_epoch_cache.clear():
            self.leader_epoch_cache.flush()
        logger.info("[Log partition=%s, dir=%s] Truncate and start at offset %d",
                    self.topic_partition, self.dir.parent, offset)

    def maybe_increment_log_start_offset(self, offset: int, *,
                                         reason: str = "client delete records request") -> bool:
        """Raise the log start offset (DeleteRecords, retention). Returns True if it moved.

        The caller checks the high watermark (DeleteRecords answers OFFSET_OUT_OF_RANGE above
        it); segments wholly below the new start are removed by the next retention check.
        """
        if offset > self._log_end_offset:
            raise OffsetOutOfRange(f"Cannot increment the log start offset to {offset} of "
                                   f"{self.topic_partition}: the log end offset is "
                                   f"{self._log_end_offset}")
        if offset <= self.log_start_offset:
            return False
        self.log_start_offset = offset
        self.producer_state.on_log_start_offset_incremented(offset)
        if self.leader_epoch_cache.truncate_from_start(offset):
            self.leader_epoch_cache.flush()
        logger.info("[Log partition=%s, dir=%s] Incremented log start offset to %d due to %s",
                    self.topic_partition, self.dir.parent, offset, reason)
        return True

    # -- retention ----------------------------------------------------------------------------

    def delete_segments(self, base_offsets: Sequence[int], *, reason: str) -> list[LogSegment]:
        """Remove the oldest segments (``base_offsets`` must be exactly the first ones) from the
        log and rename their files to ``*.deleted``; the caller unlinks them later with
        :meth:`LogSegment.delete` (after ``file.delete.delay.ms``).

        When every segment goes, the log first rolls to an empty segment at the log end offset,
        so a log always has one. The log start offset then moves to the first remaining base.

        Raises:
            ValueError: ``base_offsets`` are not the oldest segments, or would remove the empty
                active segment.
        """
        self._check_open()
        count = len(base_offsets)
        if not count:
            return []
        if list(base_offsets) != self._bases[:count]:
            raise ValueError(f"{list(base_offsets)} are not the oldest segments of "
                             f"{self.topic_partition} ({self._bases[:count]})")
        if count == len(self._segments):
            if self.active_segment.size == 0:
                raise ValueError(f"Refusing to delete the empty active segment of "
                                 f"{self.topic_partition}")
            self._roll(self._log_end_offset, None)
        removed = self._segments[:count]
        del self._segments[:count]
        del self._bases[:count]
        self._dir_dirty = True
        for segment in removed:
            segment.rename_for_deletion()
        logger.info("[Log partition=%s, dir=%s] Deleting segments due to %s: %s",
                    self.topic_partition, self.dir.parent, reason,
                    ", ".join(f"{s.log_path.name} (size {s.size}, largest timestamp "
                              f"{s.largest_timestamp})" for s in removed))
        self.maybe_increment_log_start_offset(self._bases[0], reason="segment deletion")
        for offset, path in list_snapshots(self.dir).items():
            if offset < self._bases[0]:  # snapshots of the deleted segments
                path.unlink(missing_ok=True)
        return removed

    def roll_if_idle(self, now_ms: int) -> bool:
        """Roll the active segment if it outlived ``segment.ms`` without an append noticing
        (see :func:`kafkalite.storage.retention.time_to_roll`). Returns True if it rolled."""
        self._check_open()
        active = self.active_segment
        if active.created_ms is None:
            active.created_ms = now_ms
        if not time_to_roll(size=active.size,
                            rolling_based_timestamp=active.rolling_based_timestamp,
                            created_ms=active.created_ms, now_ms=now_ms,
                            segment_ms=self.config.segment_ms,
                            segment_jitter_ms=self.config.segment_jitter_ms):
            return False
        self._roll(self._log_end_offset, now_ms)
        return True

    # -- compaction ---------------------------------------------------------------------------

    def replace_segments(self, old: Sequence[LogSegment], cleaned_base: int,
                         old_sizes: Sequence[int]) -> LogSegment:
        """Swap the cleaner's ``<cleaned_base>.{index,timeindex,txnindex,log}.cleaned`` in for
        ``old`` (Kafka's replaceSegments; see ``storage/cleaner.py``).

        The ``.cleaned`` files become ``.swap`` (the ``.log`` last: its ``.swap`` is the commit
        point recovery honours), the old segments are renamed ``.deleted`` and unlinked (open
        descriptors, so pinned fetch regions, stay valid; their ``.txnindex`` files go too),
        then the ``.swap`` files get their final names, the ``.log`` last again, and the new
        segment takes the old ones' place. The ``.txnindex.cleaned`` may be missing (the new
        segment then has no aborted transactions); an empty one is removed once in place.

        Raises:
            ValueError: ``old`` is no longer a run of inactive segments of this log with sizes
                ``old_sizes`` (the log changed while the cleaner worked); nothing is touched.
        """
        self._check_open()
        first = next((i for i, s in enumerate(self._segments) if s is old[0]), None)
        if (first is None or old[0].base_offset != cleaned_base
                or first + len(old) >= len(self._segments)
                or any(a is not b for a, b in zip(self._segments[first:], old))
                or [s.size for s in old] != list(old_sizes)):
            raise ValueError(f"Segments {[s.base_offset for s in old]} of "
                             f"{self.topic_partition} changed during cleaning")
        txn_index = self.dir / segment_file_name(cleaned_base, TXN_INDEX_SUFFIX)
        suffixes = (INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, LOG_SUFFIX)
        names = [self.dir / segment_file_name(cleaned_base, suffix) for suffix in suffixes]
        names = [n for n in names if n != txn_index or os.path.exists(f"{n}.cleaned")]
        for name in names:
            os.rename(f"{name}.cleaned", f"{name}.swap")
        for segment in old:
            segment.rename_for_deletion()
            segment.delete()
        for name in names:
            os.rename(f"{name}.swap", name)
        if txn_index in names and not os.path.getsize(txn_index):
            os.unlink(txn_index)
        segment = LogSegment.open(self.dir, cleaned_base, self.config)
        self._segments = self._segments[:first] + [segment] + self._segments[first + len(old):]
        self._bases = [s.base_offset for s in self._segments]
        self._dir_dirty = True
        return segment

    # -- flush --------------------------------------------------------------------------------

    def flush(self, up_to: int | None = None, *, now_ms: int | None = None) -> None:
        """fsync the segments holding offsets in ``[recovery_point, up_to)`` (default: all);
        the recovery point then becomes ``up_to``. Synchronous; the broker uses
        :meth:`begin_flush` + a worker thread + :meth:`complete_flush` instead."""
        self._check_open()
        if now_ms is not None:
            self._last_flush_ms = now_ms
        job = self.begin_flush(up_to)
        if job is not None:
            job.run()
            self.complete_flush(job)

    def begin_flush(self, up_to: int | None = None, *,
                    max_segments: int | None = None) -> FlushJob | None:
        """Plan the fsyncs that make offsets below ``up_to`` (default: the log end) durable;
        None when they already are. Run the job (anywhere), then :meth:`complete_flush`.

        With ``max_segments`` the job covers at most that many segments and its ``up_to``
        stops at the end of the last one, so a long backlog (after an unclean restart the
        recovery point may be far behind) is synced in bounded steps.
        """
        self._check_open()
        up_to = self._log_end_offset if up_to is None else min(up_to, self._log_end_offset)
        if up_to <= self.recovery_point and not self._dir_dirty:
            return None
        segments = []
        for i, segment in enumerate(self._segments):
            end = self._bases[i + 1] if i + 1 < len(self._bases) else self._log_end_offset + 1
            if segment.base_offset < up_to and end > self.recovery_point:
                if max_segments is not None and len(segments) == max_segments:
                    up_to = segment.base_offset
                    break
                segments.append(segment)
        directory = self.dir if self._dir_dirty else None
        self._dir_dirty = False
        return FlushJob(up_to=up_to, generation=self._generation,
                        handles=tuple(s.file_handle for s in segments),
                        index_paths=tuple(p for s in segments
                                          for p in (s.offset_index.path, s.time_index.path)),
                        directory=directory)

    def complete_flush(self, job: FlushJob, *, now_ms: int | None = None) -> None:
        """After ``job.run()``: the recovery point becomes ``job.up_to`` (never backwards, never
        past the log end), unless the log was truncated since the job was planned."""
        if now_ms is not None:
            self._last_flush_ms = now_ms
        if job.generation == self._generation:
            self.recovery_point = max(self.recovery_point,
                                      min(job.up_to, self._log_end_offset))

    def flush_due(self, now_ms: int) -> int | None:
        """The offset to flush up to now (``flush.messages``, ``flush.ms``, or segments that
        rolled since the last flush as Kafka flushes on roll), None if nothing is due."""
        if self._last_flush_ms is None:
            self._last_flush_ms = now_ms
        unflushed = self._log_end_offset - self.recovery_point
        if unflushed <= 0:
            return None
        if unflushed >= self.config.flush_interval_messages:
            return self._log_end_offset
        interval = self.config.flush_interval_ms
        if interval is not None and now_ms - self._last_flush_ms >= interval:
            return self._log_end_offset
        if self.recovery_point < self.active_segment.base_offset:
            return self.active_segment.base_offset
        return None

    def update_config(self, config: LogConfig) -> None:
        """New topic config (AlterConfigs); index sizes apply to segments created later."""
        self.config = config
        for segment in self._segments:
            segment.config = config

    def rename_dir(self, new_dir: Path) -> None:
        """Rename the partition directory (Kafka's renameDir, used to stage a deletion)."""
        new_dir = Path(new_dir)
        os.rename(self.dir, new_dir)
        self.dir = new_dir
        self.leader_epoch_cache.path = new_dir / LEADER_EPOCH_CHECKPOINT
        for segment in self._segments:
            segment.moved_to(new_dir)

    def close(self) -> None:
        """Close every segment (the active one gets its final time-index entry), after a last
        producer snapshot so the next open replays nothing."""
        if self._closed:
            return
        self.write_dirty_epoch_checkpoint()
        self.producer_state.map_end_offset = self._log_end_offset
        self.take_snapshot()
        for segment in self._segments:
            segment.close()
        self._closed = True

    def abandon(self) -> None:
        """Stop using this log without writing to it: its log dir failed (a full disk, an I/O
        error). Unlike :meth:`close` there is no producer snapshot and no final index entry;
        the files stay as they are and the next start recovers them."""
        for segment in self._segments:
            segment.abandon()
        self._closed = True

    def delete(self) -> None:
        """Delete every file of the log and its directory."""
        for segment in self._segments:
            segment.delete()
        self._closed = True
        shutil.rmtree(self.dir, ignore_errors=False)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"Log {self.topic_partition} in {self.dir} is closed")


_CONTROL = 0x20
_new_tuple = tuple.__new__  # a BatchHeader from a ready tuple, without NamedTuple.__new__'s call


def _marker(batch) -> tuple[int, int] | None:
    """``(control type, coordinator epoch)`` of a transaction marker batch, None when the
    control batch is empty (cleaned) or holds another control record type."""
    try:
        records = decode_records(RecordBatchView(memoryview(batch)))
        if not records:
            return None
        control = parse_control_record(records[0])
    except (CorruptMessage, ValueError, IndexError):
        return None
    if control.coordinator_epoch is None:
        return None
    return control.type, control.coordinator_epoch


def _parse_one(view: memoryview) -> BatchHeader:
    nbytes = memoryview(view).nbytes
    if nbytes < HEADER_SIZE:
        raise CorruptMessage(f"A batch of {nbytes} bytes is shorter than a batch header")
    header = parse_header(view)
    if header.magic != MAGIC_V2:
        raise CorruptMessage(f"Unsupported magic {header.magic}")
    if header.size != nbytes:
        raise CorruptMessage(f"Batch length {header.size} does not match the {nbytes} bytes "
                             "given")
    return header


def _append_info(headers: Sequence[BatchHeader], valid_bytes: int) -> AppendInfo:
    max_ts, offset_of_max = -1, headers[0].last_offset
    for h in headers:
        if h.max_timestamp > max_ts:
            max_ts, offset_of_max = h.max_timestamp, h.last_offset
    return AppendInfo(first_offset=headers[0].base_offset, last_offset=headers[-1].last_offset,
                      max_timestamp=max_ts, offset_of_max_timestamp=offset_of_max,
                      valid_bytes=valid_bytes)
