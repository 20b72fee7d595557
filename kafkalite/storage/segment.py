"""One log segment: ``<base>.log`` plus its ``.index`` and ``.timeindex`` (Kafka's LogSegment).

File formats:

- ``<20-digit zero-padded base offset>.log``: record batches v2 back to back, exactly as they
  travel on the wire (wire-protocol.md §4); no framing of our own. Every offset in the segment is
  >= the base offset and < the next segment's base offset; batch offsets strictly increase but
  may have gaps (compaction, follower appends).
- ``.index`` / ``.timeindex``: see :mod:`kafkalite.storage.index`. An entry is added for a batch
  when more than ``index.interval.bytes`` were written since the previous entry, so append and
  recovery build byte-identical indexes.
- ``.txnindex``: aborted transactions whose ABORT marker is in this segment
  (:mod:`kafkalite.storage.txn_index`); only exists once there is one. The log writes it (it
  needs the partition's producer state); recovery cuts entries past the valid data, and the
  log's producer-state replay on open adds any that a crash kept from being written.

The ``.log`` is opened (``O_RDWR``) on first use, not when the segment is loaded, and written
with ``os.pwritev`` at the end position, which is tracked in Python (``size``); readers only
ever see bytes below ``size``, so a region handed to the network layer for ``os.sendfile`` stays
valid while appends continue. The descriptor lives in a :class:`FileHandle` and counts against
:data:`~kafkalite.storage.descriptors.DESCRIPTORS`: the least recently used segments give theirs
up and open the file again when next used, so 10,000 partitions do not mean 10,000 open files.
A segment that drops its handle (evicted, deleted) leaves it open until the last
:class:`~kafkalite.storage.log.FetchDataInfo` holding it is gone, so a pending sendfile never
reads a recycled descriptor.

Deletion by retention is two-phase, as in Kafka: :meth:`LogSegment.rename_for_deletion` renames
the three files to ``<name>.deleted`` (open descriptors stay valid, and a restart removes such
leftovers), and :meth:`LogSegment.delete` unlinks them ``file.delete.delay.ms`` later.

All I/O is synchronous; callers run on one thread (see architecture.md §1).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from kafkalite.errors import CorruptMessage, UnsupportedCompressionType
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.record import decode_records
from kafkalite.storage._batch_header import (
    HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, BatchHeader, batch_crc_ok, parse_header,
)
from kafkalite.storage.config import LogConfig
from kafkalite.storage.descriptors import DESCRIPTORS
from kafkalite.storage.index import CorruptIndex, OffsetIndex, TimeIndex
from kafkalite.storage.txn_index import TXN_INDEX_SUFFIX, CorruptTxnIndex, TransactionIndex

__all__ = ["LogSegment", "FileHandle", "BatchScan", "TimestampAndOffset", "segment_file_name",
           "LOG_SUFFIX",
           "INDEX_SUFFIX", "TIME_INDEX_SUFFIX", "TXN_INDEX_SUFFIX", "DELETED_FILE_SUFFIX"]

logger = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
DELETED_FILE_SUFFIX = ".deleted"
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16
_SCAN_CHUNK = 1 << 20  # CRC scans read everything anyway: big sequential reads
_HEADER_SCAN_CHUNK = 8 << 10  # header-only scans: skip the record bytes of large batches


def segment_file_name(base_offset: int, suffix: str) -> str:
    return f"{base_offset:020d}{suffix}"


class TimestampAndOffset(NamedTuple):
    """A ListOffsets answer (Kafka's ``TimestampAndOffset``): the record's timestamp and offset
    and the partition leader epoch of its batch (-1 when the batch carries none)."""

    timestamp: int
    offset: int
    leader_epoch: int


class FileHandle:
    """Owner of one segment file descriptor (shared with in-flight fetches)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at collection time (or interpreter exit) nobody can act
            pass


class BatchScan:
    """Iterate ``(position, header)`` over consecutive batches of ``fd`` in ``[start, end)``.

    Stops at the first problem (short tail, bad length or magic, CRC mismatch when
    ``verify_crc``) and records it in ``error``; ``valid_end`` is then the position of the first
    bad byte (the end of the last good batch). Reads in chunks so a scan over a large segment
    costs few syscalls; the CRC is computed over slices of the chunk, not copies.
    """

    def __init__(self, fd: int, start: int, end: int, *, verify_crc: bool):
        self.fd, self.start, self.end, self.verify_crc = fd, start, end, verify_crc
        self.error: str | None = None
        self.valid_end = start

    def __iter__(self) -> Iterator[tuple[int, BatchHeader]]:
        fd, end = self.fd, self.end
        chunk = _SCAN_CHUNK if self.verify_crc else _HEADER_SCAN_CHUNK
        pos = self.start
        buf, buf_start = b"", pos
        while pos < end:
            remaining = end - pos
            if remaining < HEADER_SIZE:
                self.error = f"{remaining} trailing bytes, shorter than a batch header"
                break
            if pos + HEADER_SIZE > buf_start + len(buf):
                buf, buf_start = os.pread(fd, min(chunk, remaining), pos), pos
                if len(buf) < HEADER_SIZE:
                    self.error = "short read"
                    break
            header = parse_header(buf, pos - buf_start)
            size = header.size
            if header.batch_length < HEADER_SIZE - LOG_OVERHEAD:
                self.error = f"batch length {header.batch_length} is smaller than a header"
                break
            if header.magic != MAGIC_V2:
                self.error = f"magic {header.magic} is not 2"
                break
            if size > remaining:
                self.error = f"torn batch: {size} bytes announced, {remaining} present"
                break
            if header.last_offset_delta < 0:
                self.error = f"negative lastOffsetDelta {header.last_offset_delta}"
                break
            if self.verify_crc:
                if pos + size > buf_start + len(buf):
                    buf, buf_start = os.pread(fd, max(size, min(_SCAN_CHUNK, remaining)), pos), pos
                offset_in_buf = pos - buf_start
                if not batch_crc_ok(memoryview(buf)[offset_in_buf:offset_in_buf + size]):
                    self.error = f"CRC mismatch in batch at offset {header.base_offset}"
                    break
            yield pos, header
            pos += size
            self.valid_end = pos


class LogSegment:
    """A ``.log`` file with its two indexes; see the module docstring for formats and rules."""

    def __init__(self, directory: Path, base_offset: int, config: LogConfig, fd: int | None,
                 size: int, *, created_ms: int | None = None):
        self.dir = directory if isinstance(directory, Path) else Path(directory)
        self.base_offset = base_offset
        self.config = config
        self._file_suffix = ""  # DELETED_FILE_SUFFIX once renamed for deletion
        # None: not open now (opened on use, see the module docstring).
        self._file: FileHandle | None = None
        self._gone = False   # closed, abandoned or deleted: never opened again
        if fd is not None:
            self._file = FileHandle(fd)
            DESCRIPTORS.opened(self)
        self.size = size
        self.offset_index = OffsetIndex(self.path(INDEX_SUFFIX), base_offset,
                                        config.segment_index_bytes)
        self.time_index = TimeIndex(self.path(TIME_INDEX_SUFFIX), base_offset,
                                    config.segment_index_bytes)
        self.txn_index = TransactionIndex(self.path(TXN_INDEX_SUFFIX), base_offset)
        self.created_ms = created_ms
        self._next_offset: int | None = None
        self._max_timestamp: int | None = None  # None: read lazily from the time index
        self._offset_of_max_timestamp = base_offset
        self._first_batch_timestamp: int | None = None
        self._last_index_position: int | None = None
        self._indexes_checked = False

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, base_offset: int, config: LogConfig, *,
               now_ms: int | None = None) -> LogSegment:
        """Create a new empty segment (three files). An existing non-empty .log is an error."""
        path = Path(directory) / segment_file_name(base_offset, LOG_SUFFIX)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if os.fstat(fd).st_size:
            os.close(fd)
            raise FileExistsError(f"Segment {path} already exists and is not empty")
        segment = cls(directory, base_offset, config, fd, 0, created_ms=now_ms)
        segment.offset_index.create()
        segment.time_index.create()
        segment._next_offset = base_offset
        segment._max_timestamp = -1
        segment._last_index_position = 0
        segment._indexes_checked = True
        return segment

    @classmethod
    def open(cls, directory: Path, base_offset: int, config: LogConfig) -> LogSegment:
        """Load an existing segment; its ``.log`` is opened and its indexes loaded (and
        checked) on first use."""
        size = os.stat(os.path.join(directory, segment_file_name(base_offset, LOG_SUFFIX))).st_size
        return cls(directory, base_offset, config, None, size)

    def path(self, suffix: str) -> Path:
        return self.dir / (segment_file_name(self.base_offset, suffix) + self._file_suffix)

    @property
    def log_path(self) -> Path:
        return self.path(LOG_SUFFIX)

    @property
    def fd(self) -> int:
        """The .log descriptor, for ``os.sendfile``; keep :attr:`file_handle` alive meanwhile."""
        return self.file_handle.fd

    @property
    def file_handle(self) -> FileHandle:
        """The open ``.log`` (opened now if it is not); hold it while using its ``fd``."""
        handle = self._file
        if handle is not None:
            DESCRIPTORS.used(self)
            return handle
        if self._gone:
            raise ValueError(f"Segment {self.log_path} is deleted")
        handle = self._file = FileHandle(os.open(self.log_path, os.O_RDWR | os.O_CLOEXEC))
        DESCRIPTORS.opened(self)
        return handle

    def _release_descriptor(self) -> None:
        """Evicted from :data:`DESCRIPTORS`: drop the handle (it closes once no fetch result
        holds it); the next use opens the file again."""
        self._file = None

    def release_file(self) -> None:
        """Give up the ``.log`` descriptor now (reopened on next use): the log loader calls it
        once a segment is checked, so a loaded but idle partition holds no open file."""
        self._file = None
        DESCRIPTORS.closed(self)

    def _drop_file(self) -> None:
        self._gone = True
        self._file = None
        DESCRIPTORS.closed(self)

    def __repr__(self) -> str:
        return f"LogSegment({self.log_path}, size={self.size})"

    # -- derived state ------------------------------------------------------------------------

    def sanity_check(self) -> None:
        """Check that both indexes exist and are plausible; rebuild them (recover) if not."""
        if self._indexes_checked:
            return
        self._indexes_checked = True
        problem = None
        if not self.offset_index.path.exists() or not self.time_index.path.exists():
            problem = "missing index file"
        else:
            try:
                self.offset_index.sanity_check()
                self.time_index.sanity_check()
                self.txn_index.sanity_check()
                if self.offset_index.entries and self.offset_index.last_entry[1] >= self.size:
                    problem = (f"index position {self.offset_index.last_entry[1]} beyond the "
                               f"log size {self.size}")
            except (CorruptIndex, CorruptTxnIndex) as exc:
                problem = str(exc)
        if problem is not None:
            logger.warning("Rebuilding indexes of segment %s: %s", self.log_path, problem)
            self.recover()

    def _checked(self) -> LogSegment:
        if not self._indexes_checked:
            self.sanity_check()
        return self

    @property
    def next_offset(self) -> int:
        """Offset after the last batch (base_offset when empty); reads the tail once if unknown."""
        if self._next_offset is None:
            self._checked()
            if self._next_offset is None:
                pos = self.offset_index.last_entry[1]
                last = None
                while pos < self.size:
                    last = self.read_header(pos)
                    pos += last.size
                self._next_offset = last.next_offset if last else self.base_offset
        return self._next_offset

    @property
    def max_timestamp(self) -> int:
        """Largest batch max timestamp seen so far (-1 if none); last time-index entry on load."""
        if self._max_timestamp is None:
            self._checked()
            if self._max_timestamp is None:
                self._max_timestamp, self._offset_of_max_timestamp = self.time_index.last_entry
        return self._max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        self.max_timestamp  # noqa: B018 - materialise
        return self._offset_of_max_timestamp

    @property
    def largest_timestamp(self) -> int:
        """Kafka's largestTimestamp, what time-based retention compares with ``retention.ms``:
        the largest batch max timestamp, or the ``.log`` file's mtime when no batch carries a
        timestamp (so timestamp-less data still expires)."""
        if self.max_timestamp >= 0:
            return self.max_timestamp
        return os.fstat(self.fd).st_mtime_ns // 1_000_000

    @property
    def rolling_based_timestamp(self) -> int | None:
        """Max timestamp of the first batch (what segment.ms is measured from), None if empty."""
        if self.size == 0:
            return None
        if self._first_batch_timestamp is None:
            self._first_batch_timestamp = self.read_header(0).max_timestamp
        return self._first_batch_timestamp

    def read_header(self, position: int) -> BatchHeader:
        data = os.pread(self.fd, HEADER_SIZE, position)
        if len(data) < HEADER_SIZE:
            raise EOFError(f"Short batch header at {position} of {self.log_path}")
        return parse_header(data)

    # -- append -------------------------------------------------------------------------------

    def should_roll(self, *, size: int, max_timestamp: int, max_offset: int,
                    now_ms: int | None) -> bool:
        """Kafka's shouldRoll: size, segment.ms since the first batch, full index, offset range.

        segment.ms is measured from the first batch's max timestamp to the incoming one's, or,
        when the first batch has no timestamp, from the segment's creation (``now_ms`` of the
        first roll check after it was created or loaded; None skips that fallback).
        """
        if self.created_ms is None:
            self.created_ms = now_ms
        if self.size > self.config.segment_bytes - size:
            return True
        if self.size > 0:
            first = self._first_batch_timestamp
            if first is None:
                first = self.rolling_based_timestamp
            if first is not None and first >= 0:
                waited = max_timestamp - first
            elif now_ms is not None and self.created_ms is not None:
                waited = now_ms - self.created_ms
            else:
                waited = 0
            if waited > self.config.segment_ms:
                return True
        if not self._indexes_checked:
            self.sanity_check()
        offset_index = self.offset_index
        return (offset_index.is_full or self.time_index.is_full
                or not offset_index.can_append_offset(max_offset))

    def append(self, buffers: Sequence, batches: Sequence[BatchHeader],
               total: int | None = None) -> int:
        """Write ``buffers`` (whose concatenation is exactly ``batches``, ``total`` bytes) at
        the end.

        Returns the position the first batch was written at. The max timestamp is followed per
        batch; an index entry costs something only every ``index.interval.bytes``.
        """
        if not self._indexes_checked:
            self.sanity_check()
        if total is None:
            total = sum(h.size for h in batches)
        if not batches or total == 0:
            return self.size
        last = batches[-1]
        if not self.offset_index.can_append_offset(last[0] + last[6]):
            raise ValueError(f"Offset {batches[-1].last_offset} overflows segment {self.log_path}")
        position = self.size
        _write_all(self.file_handle.fd, buffers, position, total)
        if position == 0:
            self._first_batch_timestamp = batches[0].max_timestamp
        self.size = position + total
        if self._max_timestamp is None:
            self.max_timestamp  # noqa: B018 - materialise before comparing
        last_index_position = self._last_index_position
        if last_index_position is None:
            last_index_position = self._last_index_position = self.offset_index.last_entry[1]
        interval = self.config.index_interval_bytes
        for header in batches:
            # the max timestamp as _index_batch follows it, inline: this runs on every produce
            if header[8] > self._max_timestamp:
                self._max_timestamp = header[8]
                self._offset_of_max_timestamp = header[0] + header[6]
            if position - last_index_position > interval and self._add_index_entry(position,
                                                                                   header):
                last_index_position = position
            position += header[1] + LOG_OVERHEAD
        self._next_offset = last[0] + last[6] + 1
        return self.size - total

    def _index_batch(self, position: int, header: BatchHeader) -> None:
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
            self._offset_of_max_timestamp = header.last_offset
        if self._last_index_position is None:
            self._last_index_position = self.offset_index.last_entry[1]
        if position - self._last_index_position > self.config.index_interval_bytes:
            self._add_index_entry(position, header)

    def _add_index_entry(self, position: int, header: BatchHeader) -> bool:
        """More than ``index.interval.bytes`` since the last entry: index the batch at
        ``position`` (the max timestamp is already updated for it), unless the index is full.
        Returns True if an entry was added."""
        if self.offset_index.is_full:
            return False
        self.offset_index.append(header.last_offset, position)
        if not self.time_index.is_full:
            self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp)
        self._last_index_position = position
        return True

    # -- lookup -------------------------------------------------------------------------------

    def translate_offset(self, offset: int, start_position: int = 0
                         ) -> tuple[int, BatchHeader] | None:
        """(position, header) of the first batch whose last offset >= ``offset``, or None."""
        pos = max(self._checked().offset_index.lookup(offset)[1], start_position)
        size = self.size
        while pos < size:
            header = self.read_header(pos)
            if header.last_offset >= offset:
                return pos, header
            pos += header.size
        return None

    def max_position_for(self, max_offset: int) -> int:
        """Position of the first batch whose base offset >= ``max_offset`` (size if none)."""
        found = self.translate_offset(max_offset)
        if found is None:
            return self.size
        pos, header = found
        return pos if header.base_offset >= max_offset else pos + header.size

    def read_region(self, start_offset: int, max_bytes: int, max_position: int | None = None,
                    *, min_one_batch: bool = False) -> tuple[int, int] | None:
        """(position, size) of the whole batches from the one containing ``start_offset``.

        The region ends at a batch boundary <= ``max_position`` and is at most ``max_bytes``
        long, except that with ``min_one_batch`` the first batch is returned whole even if it is
        larger (KIP-74). None when no batch of this segment has an offset >= ``start_offset``.
        """
        found = self.translate_offset(start_offset)
        if found is None:
            return None
        start, header = found
        limit = self.size if max_position is None else min(max_position, self.size)
        if start >= limit:
            return start, 0
        end = self._last_boundary_at_or_before(min(limit, start + max(max_bytes, 0)), start)
        if end == start and min_one_batch:
            end = start + header.size
        return start, end - start

    def _last_boundary_at_or_before(self, limit: int, start: int) -> int:
        if limit >= self.size:
            return self.size
        pos = max(self.offset_index.lookup_by_position(limit)[1], start)
        while True:
            size = self.read_header(pos).size
            if pos + size > limit:
                return pos
            pos += size

    def find_offset_by_timestamp(self, timestamp: int, starting_offset: int
                                 ) -> TimestampAndOffset | None:
        """The first record at or after ``starting_offset`` whose timestamp >= ``timestamp``.

        Kafka's ``LogSegment.findOffsetByTimestamp``: the time index (max timestamp so far ->
        offset that first reached it) gives a start below which every record is older than the
        target; from there, batches are scanned by header and the first one whose max timestamp
        reaches the target has its records decoded (decompressed if needed: a lookup, not the
        hot path). Record timestamps need not be monotonic, and the max timestamp need not be
        the last record's, so the answer is the first *record* in offset order, not the batch.
        A batch whose max timestamp reaches the target but holds no such record at or after
        ``starting_offset`` is passed over, as in Kafka.

        Returns:
            ``TimestampAndOffset``, or None when no record of this segment qualifies.
        """
        _, offset = self._checked().time_index.lookup(timestamp)
        pos = self.offset_index.lookup(max(offset, starting_offset))[1]
        while pos < self.size:
            header = self.read_header(pos)
            if header.max_timestamp >= timestamp and header.last_offset >= starting_offset:
                found = self._search_batch(pos, header, timestamp, starting_offset)
                if found is not None:
                    return found
            pos += header.size
        return None

    def _search_batch(self, position: int, header: BatchHeader, timestamp: int,
                      starting_offset: int) -> TimestampAndOffset | None:
        epoch = header.partition_leader_epoch
        view = RecordBatchView(memoryview(os.pread(self.fd, header.size, position)))
        try:
            records = decode_records(view)
        except (CorruptMessage, UnsupportedCompressionType) as e:
            # Data Kafka's validator would have refused (kafkalite's hot path never inflates
            # non-compacted batches): answer at batch granularity, which never skips a record.
            logger.warning("Cannot decode the batch at offset %d of %s for a timestamp lookup "
                           "(%s); answering with the batch's first offset", header.base_offset,
                           self.log_path, e)
            return TimestampAndOffset(header.max_timestamp,
                                      max(header.base_offset, starting_offset), epoch)
        for record in records:
            if record.timestamp >= timestamp and record.offset >= starting_offset:
                return TimestampAndOffset(record.timestamp, record.offset, epoch)
        return None

    def batches(self, start_position: int = 0) -> Iterator[tuple[int, BatchHeader]]:
        """Headers of all batches from ``start_position`` (no CRC check)."""
        handle = self.file_handle   # held while the caller iterates: eviction cannot close it
        yield from BatchScan(handle.fd, start_position, self.size, verify_crc=False)

    # -- recovery and truncation --------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild both indexes from the log; cut everything from the first invalid batch.

        A batch is valid when its header is complete, magic is 2, its length fits in the file,
        its CRC-32C matches and its base offset continues the segment's offsets. Returns the
        number of bytes cut (0 if the segment was intact).
        """
        self.offset_index.reset(defer_writes=True)
        self.time_index.reset(defer_writes=True)
        self._indexes_checked = True
        self._max_timestamp, self._offset_of_max_timestamp = -1, self.base_offset
        self._last_index_position = 0
        handle = self.file_handle   # held across the scan (see batches())
        scan = BatchScan(handle.fd, 0, self.size, verify_crc=True)
        next_offset, valid, error = self.base_offset, 0, None
        for pos, header in scan:
            if header.base_offset < next_offset:
                error = f"offset {header.base_offset} below the expected {next_offset}"
                break
            if not self.offset_index.can_append_offset(header.last_offset):
                error = f"offset {header.last_offset} overflows the segment's relative offsets"
                break
            self._index_batch(pos, header)
            next_offset, valid = header.next_offset, pos + header.size
        else:
            error = scan.error
        truncated = self.size - valid
        if truncated:
            logger.warning("Found invalid messages in log segment %s at byte offset %d: %s; "
                           "truncating %d bytes", self.log_path, valid, error, truncated)
            os.ftruncate(self.fd, valid)
            self.size = valid
        if self._max_timestamp >= 0:
            self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp,
                                         skip_full_check=True)
        self.offset_index.write_out()
        self.time_index.write_out()
        try:
            self.txn_index.sanity_check()
            self.txn_index.truncate_to(next_offset)
        except CorruptTxnIndex as exc:
            logger.warning("Dropping the transaction index of %s: %s", self.log_path, exc)
            self.txn_index.reset()
        self._next_offset = next_offset
        self._first_batch_timestamp = None
        return truncated

    def check_tail(self) -> str | None:
        """Cheap check of a cleanly closed active segment: walk (with CRCs) the batches after
        the last index entry. Returns a description of the problem, None when the tail is whole.
        """
        self._checked()
        start = self.offset_index.last_entry[1]
        handle = self.file_handle   # held across the scan (see batches())
        scan = BatchScan(handle.fd, start, self.size, verify_crc=True)
        last = None
        for _, header in scan:
            if last is not None and header.base_offset < last.next_offset:
                return f"offset {header.base_offset} below the expected {last.next_offset}"
            last = header
        if scan.error is not None:
            return f"{scan.error} at byte {scan.valid_end}"
        self._next_offset = last.next_offset if last else self.base_offset
        return None

    def truncate_to(self, offset: int) -> int:
        """Remove every batch whose last offset >= ``offset`` (a batch containing ``offset`` goes
        whole). Returns the number of bytes removed."""
        found = self.translate_offset(offset)
        if found is None:
            return 0
        pos, _ = found
        self.offset_index.truncate_to_position(pos)
        self.time_index.truncate_to(offset)
        self.txn_index.truncate_to(offset)
        os.ftruncate(self.fd, pos)
        truncated, self.size = self.size - pos, pos
        self._next_offset = None
        self._max_timestamp = None
        self._last_index_position = None
        self._first_batch_timestamp = None
        return truncated

    # -- lifecycle ----------------------------------------------------------------------------

    def on_become_inactive(self) -> None:
        """The log rolled past this segment: final time-index entry, release index writers."""
        if self._indexes_checked and self.max_timestamp >= 0:
            self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp,
                                         skip_full_check=True)
        self.offset_index.trim()
        self.time_index.trim()
        self.offset_index.close_writer()
        self.time_index.close_writer()

    def rename_for_deletion(self) -> None:
        """Rename the three files to ``<name>.deleted`` (Kafka's changeFileSuffixes), the first
        half of an asynchronous delete: readers holding the descriptor keep working, and a crash
        before :meth:`delete` leaves files the next startup removes."""
        if self._file_suffix == DELETED_FILE_SUFFIX:
            return
        self.offset_index.close_writer()
        self.time_index.close_writer()
        renames = [(self.path(suffix), suffix) for suffix in
                   (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)]
        self._file_suffix = DELETED_FILE_SUFFIX
        for old, suffix in renames:
            try:
                os.rename(old, self.path(suffix))
            except FileNotFoundError:
                if suffix == LOG_SUFFIX:
                    raise
        self.offset_index.path = self.path(INDEX_SUFFIX)
        self.time_index.path = self.path(TIME_INDEX_SUFFIX)
        self.txn_index.rename(self.path(TXN_INDEX_SUFFIX))

    def moved_to(self, directory: Path) -> None:
        """The directory was renamed; open descriptors still refer to the same files."""
        self.dir = Path(directory)
        self.offset_index.path = self.path(INDEX_SUFFIX)
        self.time_index.path = self.path(TIME_INDEX_SUFFIX)
        self.txn_index.path = self.path(TXN_INDEX_SUFFIX)

    def flush(self) -> None:
        """fsync the log and both indexes (safe in a worker thread while appends go on)."""
        handle = self._file   # held here: an eviction meanwhile does not close it
        if handle is not None:
            os.fsync(handle.fd)
        elif not self._gone:
            fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.offset_index.flush()
        self.time_index.flush()
        self.txn_index.flush()

    def close(self) -> None:
        if self._gone:
            return
        self.on_become_inactive()
        self.offset_index.close()
        self.time_index.close()
        handle = self._file
        self._drop_file()
        if handle is not None:
            handle.close()

    def abandon(self) -> None:
        """Stop using the files without writing anything more (their log dir failed): the
        index writers are closed, the log descriptor closes once no fetch result holds it.
        What is on disk stays as it is, for recovery at the next start."""
        for index in (self.offset_index, self.time_index):
            try:
                index.close()
            except OSError:
                pass
        self._drop_file()

    def delete(self) -> None:
        """Unlink the three files. The descriptor closes once no fetch result holds it."""
        self.offset_index.delete()
        self.time_index.delete()
        self.txn_index.delete()
        self.log_path.unlink(missing_ok=True)
        self._drop_file()


def _write_all(fd: int, buffers: Sequence, position: int, total: int) -> None:
    """pwritev every buffer at ``position``, resuming after short writes and IOV_MAX limits."""
    if len(buffers) == 1:
        # One batch, the usual produce: no list of cast views; a short write falls through.
        view = buffers[0]
        if type(view) is not memoryview:
            view = memoryview(view)
        if view.nbytes != total:
            raise ValueError("buffers and batch headers disagree on the byte count")
        written = os.pwrite(fd, view, position)
        if written == total:
            return
        if written <= 0:
            raise OSError(f"pwrite wrote {written} bytes")
        views = [view.cast("B")[written:]]
        position += written
    else:
        views = [v for v in [memoryview(b).cast("B") for b in buffers] if v.nbytes]
        if sum(v.nbytes for v in views) != total:
            raise ValueError("buffers and batch headers disagree on the byte count")
    i = 0
    while i < len(views):
        written = os.pwritev(fd, views[i:i + _IOV_MAX], position)
        if written <= 0:
            raise OSError(f"pwritev wrote {written} bytes")
        position += written
        while written:
            n = views[i].nbytes
            if written >= n:
                written -= n
                i += 1
            else:
                views[i] = views[i][written:]
                written = 0
