"""Sparse per-segment indexes: ``.index`` (offset -> file position) and ``.timeindex``.

File formats (byte for byte Kafka's, so Kafka tools can read our log dirs)::

    <base>.index      8-byte entries, big-endian: relative_offset int32, position int32
    <base>.timeindex 12-byte entries, big-endian: timestamp int64,      relative_offset int32

``relative_offset = offset - segment base offset``. Offset-index entries name the LAST offset of
the batch that starts at ``position`` (Kafka does the same since batches became the unit), so a
lookup of the largest entry <= target lands at or before the batch containing the target and a
short forward scan of batch headers finishes the job. Time-index entries are
``(max timestamp so far, last offset of the batch that first reached it)``; timestamps strictly
increase from entry to entry.

Both files are *derived data*: never checksummed, rebuilt from the ``.log`` by recovery after an
unclean shutdown or when a sanity check fails. Kafka preallocates them (``segment.index.bytes``)
and mmaps them; we simply append entries with ``os.pwrite`` at ``entries * entry_size``, so a
file always holds exactly its valid entries ("trimmed", as Kafka leaves it on roll and close) and
is Kafka-readable at any time. ``segment.index.bytes`` still bounds the entry count: a full index
makes the log roll, as in Kafka.

Entries live in memory as two ``array``s (bisect runs in C). Indexes of inactive segments are
loaded lazily on first lookup; the file is opened for writing only when an entry is appended or
the index is truncated, and the writer is one of the descriptors bounded by
:data:`~kafkalite.storage.descriptors.DESCRIPTORS` (closed when least recently used), so an
index that is not being written costs no file descriptor.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array
from pathlib import Path
from typing import ClassVar

from kafkalite.storage.checkpoint import read_small_file
from kafkalite.storage.descriptors import DESCRIPTORS

__all__ = ["OffsetIndex", "TimeIndex", "CorruptIndex"]

_INT32_MAX = 2**31 - 1


class CorruptIndex(Exception):
    """An index file failed its sanity check; the caller rebuilds it from the log."""


class _Index:
    """Shared machinery: lazy load, append-only file, truncation. Keys ascend strictly."""

    ENTRY: ClassVar[struct.Struct]
    # typecodes of the (first field, second field) arrays
    TYPECODES: ClassVar[tuple[str, str]]

    def __init__(self, path: Path, base_offset: int, max_index_size: int):
        self.path = path if isinstance(path, Path) else Path(path)
        self.base_offset = base_offset
        self.max_entries = max(1, max_index_size // self.ENTRY.size)
        self._first = array(self.TYPECODES[0])
        self._second = array(self.TYPECODES[1])
        self._loaded = False
        self._fd: int | None = None
        self._deferred = False  # rebuilding: entries go to memory, written out at the end

    # -- loading and sanity -------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        try:
            data = read_small_file(self.path)
        except FileNotFoundError:
            data = b""
        if len(data) % self.ENTRY.size:
            raise CorruptIndex(f"Index file {self.path} has size {len(data)}, not a multiple of "
                               f"the entry size {self.ENTRY.size}")
        if data:
            first, second = zip(*self.ENTRY.iter_unpack(data))
            self._first = array(self.TYPECODES[0], first)
            self._second = array(self.TYPECODES[1], second)
        self._loaded = True
        self._sanity_check_entries()

    def _sanity_check_entries(self) -> None:
        raise NotImplementedError

    def sanity_check(self) -> None:
        """Load the index if needed and check it (Kafka's sanityCheck); raises CorruptIndex."""
        self._load()
        self._sanity_check_entries()

    @property
    def entries(self) -> int:
        self._load()
        return len(self._first)

    @property
    def is_full(self) -> bool:
        if not self._loaded:
            self._load()
        return len(self._first) >= self.max_entries

    def entry(self, n: int) -> tuple[int, int]:
        """The n-th entry, in the class's public (absolute offset) form."""
        self._load()
        return self._public(n)

    def _public(self, n: int) -> tuple[int, int]:
        raise NotImplementedError

    def all_entries(self) -> list[tuple[int, int]]:
        self._load()
        return [self._public(n) for n in range(len(self._first))]

    # -- writing ----------------------------------------------------------------------------

    def create(self) -> None:
        """Create the (empty) file now so the segment's file set is complete on disk; the
        writer is opened again by the first append."""
        self._loaded = True
        os.ftruncate(self._open_for_write(), len(self._first) * self.ENTRY.size)
        self.close_writer()

    def _open_for_write(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            DESCRIPTORS.opened(self)
        else:
            DESCRIPTORS.used(self)
        return self._fd

    def _release_descriptor(self) -> None:
        """Evicted from :data:`DESCRIPTORS`: close the writer (entries stay in memory)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, first: int, second: int) -> None:
        if not self._deferred:
            os.pwrite(self._open_for_write(), self.ENTRY.pack(first, second),
                      len(self._first) * self.ENTRY.size)
        self._first.append(first)
        self._second.append(second)

    def _truncate_entries(self, n: int) -> None:
        self._load()
        fd = self._open_for_write()
        os.ftruncate(fd, n * self.ENTRY.size)
        del self._first[n:]
        del self._second[n:]

    def reset(self, *, defer_writes: bool = False) -> None:
        """Drop every entry (recovery rebuilds the index from scratch).

        With ``defer_writes`` the file is left alone and new entries are kept in memory until
        :meth:`write_out` writes them with one ``pwrite`` (a rebuild of a large segment would
        otherwise cost a syscall per entry).
        """
        self._loaded = True
        self._first = array(self.TYPECODES[0])
        self._second = array(self.TYPECODES[1])
        self._deferred = defer_writes
        if not defer_writes:
            os.ftruncate(self._open_for_write(), 0)

    def write_out(self) -> None:
        """End a deferred rebuild: replace the file content by the in-memory entries."""
        if not self._deferred:
            return
        self._deferred = False
        data = b"".join(self.ENTRY.pack(a, b) for a, b in zip(self._first, self._second))
        fd = self._open_for_write()
        if data:
            os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        self.close_writer()   # a rebuilt index is rarely written next (recovery of old data)

    def trim(self) -> None:
        """Kafka's trimToValidSize. Our files never hold unused space, so this is a no-op."""

    def flush(self) -> None:
        """fsync the file through a descriptor of its own: the writer may be closed meanwhile
        by a roll when this runs in a worker thread."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close_writer(self) -> None:
        """Close the write descriptor but keep the entries (a segment that became inactive)."""
        if self._fd is not None:
            DESCRIPTORS.closed(self)
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Close the write descriptor and forget the in-memory entries (reloaded on demand)."""
        self.close_writer()
        self._first = array(self.TYPECODES[0])
        self._second = array(self.TYPECODES[1])
        self._loaded = False

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def _relative(self, offset: int) -> int:
        relative = offset - self.base_offset
        if not 0 <= relative <= _INT32_MAX:
            raise ValueError(f"Offset {offset} does not fit in index {self.path} "
                             f"(base offset {self.base_offset})")
        return relative

    def can_append_offset(self, offset: int) -> bool:
        return 0 <= offset - self.base_offset <= _INT32_MAX


class OffsetIndex(_Index):
    """Sparse map offset -> position of one segment (see the module docstring for the format)."""

    ENTRY = struct.Struct(">ii")
    TYPECODES = ("i", "i")

    def _public(self, n: int) -> tuple[int, int]:
        return self.base_offset + self._first[n], self._second[n]

    def _sanity_check_entries(self) -> None:
        if self._first and (self._first[-1] < 0 or self._first[-1] < self._first[0]):
            raise CorruptIndex(f"Corrupt index found, index file ({self.path}) has non-zero "
                               f"size but the last offset is {self.base_offset + self._first[-1]}"
                               f" and the base offset is {self.base_offset}")

    @property
    def last_entry(self) -> tuple[int, int]:
        """(offset, position) of the last entry, or (base_offset, 0) when empty."""
        self._load()
        if not self._first:
            return self.base_offset, 0
        return self._public(len(self._first) - 1)

    def append(self, offset: int, position: int) -> None:
        """Add an entry; offsets must strictly increase and the index must not be full."""
        self._load()
        if self._first and offset - self.base_offset <= self._first[-1]:
            raise ValueError(f"Attempt to append offset {offset} to {self.path}, no larger than "
                             f"the last offset {self.last_entry[0]}")
        if len(self._first) >= self.max_entries:
            raise ValueError(f"Attempt to append to a full index {self.path}")
        self._append(self._relative(offset), position)

    def lookup(self, target_offset: int) -> tuple[int, int]:
        """(offset, position) of the largest entry with offset <= target, else (base, 0)."""
        self._load()
        n = bisect.bisect_right(self._first, target_offset - self.base_offset) - 1
        if n < 0:
            return self.base_offset, 0
        return self._public(n)

    def lookup_by_position(self, position: int) -> tuple[int, int]:
        """(offset, position) of the last entry whose position <= ``position``, else (base, 0)."""
        self._load()
        n = bisect.bisect_right(self._second, position) - 1
        if n < 0:
            return self.base_offset, 0
        return self._public(n)

    def truncate_to(self, offset: int) -> None:
        """Remove every entry with offset >= ``offset``."""
        self._load()
        self._truncate_entries(bisect.bisect_left(self._first, offset - self.base_offset))

    def truncate_to_position(self, position: int) -> None:
        """Remove every entry whose position is >= ``position`` (a cut of the log file)."""
        self._load()
        self._truncate_entries(bisect.bisect_left(self._second, position))


class TimeIndex(_Index):
    """Sparse map max-timestamp-so-far -> offset of one segment (format in the module doc)."""

    ENTRY = struct.Struct(">qi")
    TYPECODES = ("q", "i")

    def _public(self, n: int) -> tuple[int, int]:
        return self._first[n], self.base_offset + self._second[n]

    def _sanity_check_entries(self) -> None:
        if not self._first:
            return
        if self._first[-1] < self._first[0]:
            raise CorruptIndex(f"Corrupt time index found, time index file ({self.path}) has "
                               f"non-zero size but the last timestamp is {self._first[-1]} which "
                               f"is less than the first timestamp {self._first[0]}")
        if self._second[-1] < 0:
            raise CorruptIndex(f"Corrupt time index found, time index file ({self.path}) has "
                               f"non-zero size but the last offset is "
                               f"{self.base_offset + self._second[-1]} and the base offset is "
                               f"{self.base_offset}")

    @property
    def last_entry(self) -> tuple[int, int]:
        """(timestamp, offset) of the last entry, or (-1, base_offset) when empty."""
        self._load()
        if not self._first:
            return -1, self.base_offset
        return self._public(len(self._first) - 1)

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> None:
        """Append unless ``timestamp`` is not larger than the last entry's (Kafka semantics).

        ``skip_full_check`` lets the final entry of a segment (written on roll/close) go into a
        full index, as Kafka does.
        """
        self._load()
        if self._first:
            last_ts, last_offset = self._public(len(self._first) - 1)
            if offset < last_offset:
                raise ValueError(f"Attempt to append offset {offset} to {self.path}, smaller "
                                 f"than the last offset {last_offset}")
            if timestamp <= last_ts:
                return
        if not skip_full_check and len(self._first) >= self.max_entries:
            raise ValueError(f"Attempt to append to a full time index {self.path}")
        self._append(timestamp, self._relative(offset))

    def lookup(self, target_timestamp: int) -> tuple[int, int]:
        """(timestamp, offset) of the largest entry with timestamp <= target, else (-1, base)."""
        self._load()
        n = bisect.bisect_right(self._first, target_timestamp) - 1
        if n < 0:
            return -1, self.base_offset
        return self._public(n)

    def truncate_to(self, offset: int) -> None:
        """Remove every entry with offset >= ``offset``."""
        self._load()
        self._truncate_entries(bisect.bisect_left(self._second, offset - self.base_offset))
