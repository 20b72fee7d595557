"""Zero-copy view of one record batch v2 (magic 2, KIP-98) and a walker over concatenated batches.

Byte layout (all big-endian; wire-protocol.md §4)::

    off size field                  CRC?
      0   8  baseOffset int64        no   leader assigns it on append (producers send 0)
      8   4  batchLength int32       no   bytes after this field = total size - 12
     12   4  partitionLeaderEpoch    no   leader sets it on append (producers send -1)
     16   1  magic int8              no   2
     17   4  crc uint32              —    CRC-32C (Castagnoli) over bytes 21 .. end
     21   2  attributes int16        yes  bits 0-2 codec, 3 timestamp type, 4 transactional,
                                          5 control, 6 delete horizon (KIP-534)
     23   4  lastOffsetDelta int32   yes
     27   8  baseTimestamp int64     yes  first record's timestamp (or the delete horizon)
     35   8  maxTimestamp int64      yes  append time for LogAppendTime topics
     43   8  producerId int64        yes  -1 when not idempotent
     51   2  producerEpoch int16     yes
     53   4  baseSequence int32      yes
     57   4  recordsCount int32      yes
     61   …  records                 yes  one compressed blob when the codec is not NONE

Because baseOffset and partitionLeaderEpoch lie before the CRC range, the leader patches both in
place without touching the CRC; switching to LogAppendTime changes attributes and maxTimestamp
and so needs a new CRC. Legacy entries (magic 0/1, §5) share the first 17 bytes' shape
(offset, size, crc, magic), which is how :func:`iter_log_entries` walks mixed data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import crc32c

from kafkalite.errors import CorruptMessage

__all__ = [
    "RECORD_BATCH_OVERHEAD",
    "LOG_OVERHEAD",
    "MAGIC_V0",
    "MAGIC_V1",
    "MAGIC_V2",
    "LEGACY_MIN_MESSAGE_SIZE",
    "COMPRESSION_MASK",
    "TIMESTAMP_TYPE_MASK",
    "TRANSACTIONAL_MASK",
    "CONTROL_MASK",
    "DELETE_HORIZON_MASK",
    "CREATE_TIME",
    "LOG_APPEND_TIME",
    "NO_TIMESTAMP",
    "HEADER",
    "RecordBatchView",
    "iter_batches",
    "iter_log_entries",
]

RECORD_BATCH_OVERHEAD = 61
LOG_OVERHEAD = 12
MAGIC_V0 = 0
MAGIC_V1 = 1
MAGIC_V2 = 2
LEGACY_MIN_MESSAGE_SIZE = 14  # smallest legacy (magic 0) message after offset + size
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21  # start of the CRC-covered range

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

CREATE_TIME = 0
LOG_APPEND_TIME = 1
NO_TIMESTAMP = -1

# The whole 61-byte header, for builders that write it in one call.
HEADER = struct.Struct(">qiibIhiqqqhii")

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_INT8 = struct.Struct(">b")
_OFFSET_AND_LENGTH = struct.Struct(">qi")

_MAX_INT32 = 0x7FFFFFFF


class RecordBatchView:
    """Read fields of one v2 batch straight from its buffer; patch the broker-owned fields.

    Fields are read on every access (no cached copies), so a view stays right even if someone
    patches the same buffer through another view. Mutators need a writable buffer (a
    ``memoryview`` over a ``bytearray``); on ``bytes`` they raise ``TypeError``.

    Args:
        buf: a buffer starting at the batch's first byte. Anything past the batch's
            ``batchLength + 12`` bytes is cut off.

    Raises:
        CorruptMessage: the buffer is shorter than the header or than the length it declares.
    """

    __slots__ = ("_buf",)

    def __init__(self, buf: memoryview):
        if not isinstance(buf, memoryview):
            buf = memoryview(buf)
        if len(buf) < RECORD_BATCH_OVERHEAD:
            raise CorruptMessage(
                f"record batch of {len(buf)} bytes is smaller than the {RECORD_BATCH_OVERHEAD}-byte header"
            )
        size = _INT32.unpack_from(buf, 8)[0] + LOG_OVERHEAD
        if size < RECORD_BATCH_OVERHEAD or size > len(buf):
            raise CorruptMessage(f"record batch declares {size} bytes but {len(buf)} are available")
        self._buf = buf if size == len(buf) else buf[:size]

    @classmethod
    def of_checked_batch(cls, buf: memoryview) -> RecordBatchView:
        """A view over ``buf`` that is already known to be exactly one whole batch (the
        validator just checked its length): skips the constructor's checks, which would
        unpack the length a second time on every produce."""
        view = object.__new__(cls)
        view._buf = buf
        return view

    def __repr__(self) -> str:
        return (
            f"RecordBatchView(base_offset={self.base_offset}, size={self.size_in_bytes}, "
            f"magic={self.magic}, count={self.records_count}, attributes={self.attributes:#x})"
        )

    @property
    def buffer(self) -> memoryview:
        """The batch's bytes, exactly ``size_in_bytes`` long."""
        return self._buf

    @property
    def records_data(self) -> memoryview:
        """Bytes after the header: the records, or their compressed blob."""
        return self._buf[RECORD_BATCH_OVERHEAD:]

    @property
    def base_offset(self) -> int:
        return _INT64.unpack_from(self._buf, 0)[0]

    @property
    def batch_length(self) -> int:
        return _INT32.unpack_from(self._buf, 8)[0]

    @property
    def size_in_bytes(self) -> int:
        return len(self._buf)

    @property
    def partition_leader_epoch(self) -> int:
        return _INT32.unpack_from(self._buf, 12)[0]

    @property
    def magic(self) -> int:
        return _INT8.unpack_from(self._buf, MAGIC_OFFSET)[0]

    @property
    def crc(self) -> int:
        return _UINT32.unpack_from(self._buf, CRC_OFFSET)[0]

    @property
    def attributes(self) -> int:
        return _INT16.unpack_from(self._buf, ATTRIBUTES_OFFSET)[0]

    @property
    def compression(self) -> int:
        return self._buf[22] & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> int:
        return LOG_APPEND_TIME if self._buf[22] & TIMESTAMP_TYPE_MASK else CREATE_TIME

    @property
    def is_transactional(self) -> bool:
        return bool(self._buf[22] & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self._buf[22] & CONTROL_MASK)

    @property
    def has_delete_horizon(self) -> bool:
        return bool(self._buf[22] & DELETE_HORIZON_MASK)

    @property
    def last_offset_delta(self) -> int:
        return _INT32.unpack_from(self._buf, 23)[0]

    @property
    def base_timestamp(self) -> int:
        return _INT64.unpack_from(self._buf, 27)[0]

    @property
    def max_timestamp(self) -> int:
        return _INT64.unpack_from(self._buf, 35)[0]

    @property
    def producer_id(self) -> int:
        return _INT64.unpack_from(self._buf, 43)[0]

    @property
    def has_producer_id(self) -> bool:
        return self.producer_id >= 0

    @property
    def producer_epoch(self) -> int:
        return _INT16.unpack_from(self._buf, 51)[0]

    @property
    def base_sequence(self) -> int:
        return _INT32.unpack_from(self._buf, 53)[0]

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record; sequences wrap from INT32_MAX to 0 (Kafka semantics)."""
        base = self.base_sequence
        if base < 0:
            return base
        last = base + self.last_offset_delta
        return last - _MAX_INT32 - 1 if last > _MAX_INT32 else last

    @property
    def records_count(self) -> int:
        return _INT32.unpack_from(self._buf, 57)[0]

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.last_offset + 1

    def set_base_offset(self, offset: int) -> None:
        """Assign the batch's first offset. Outside the CRC range: the CRC stays valid."""
        _INT64.pack_into(self._buf, 0, offset)

    def set_partition_leader_epoch(self, epoch: int) -> None:
        """Stamp the leader epoch. Outside the CRC range: the CRC stays valid."""
        _INT32.pack_into(self._buf, 12, epoch)

    def set_log_append_time(self, timestamp_ms: int) -> None:
        """Switch the batch to LogAppendTime at ``timestamp_ms`` and recompute the CRC.

        Sets attribute bit 3 and maxTimestamp, as Kafka's leader does for topics with
        ``message.timestamp.type=LogAppendTime``; consumers then use maxTimestamp as every
        record's timestamp.
        """
        attributes = self.attributes | TIMESTAMP_TYPE_MASK
        _INT16.pack_into(self._buf, ATTRIBUTES_OFFSET, attributes)
        _INT64.pack_into(self._buf, 35, timestamp_ms)
        self.refresh_crc()

    def compute_crc(self) -> int:
        """CRC-32C of bytes 21 .. end, as it should be stored."""
        return crc32c.crc32c(self._buf[ATTRIBUTES_OFFSET:])

    def refresh_crc(self) -> None:
        """Store :meth:`compute_crc` in the CRC field (after patching CRC-covered fields)."""
        _UINT32.pack_into(self._buf, CRC_OFFSET, self.compute_crc())

    def is_valid(self) -> bool:
        """True when the batch is magic 2 and its stored CRC matches its bytes."""
        return self.magic == MAGIC_V2 and self.crc == self.compute_crc()


def iter_log_entries(buf: memoryview, *, start: int = 0) -> Iterator[tuple[int, int, memoryview]]:
    """Walk concatenated log entries of any magic: yield ``(position, magic, entry_view)``.

    An entry is a v2 batch or a legacy (magic 0/1) message with its offset + size prefix; both
    begin ``int64 offset, int32 size`` and keep the magic at byte 16. The walk stops silently at
    a trailing partial entry (fetch responses routinely end with one).

    Raises:
        CorruptMessage: an entry declares a size below the smallest possible entry, so the rest
            of the buffer cannot be walked.
    """
    if not isinstance(buf, memoryview):
        buf = memoryview(buf)
    end = len(buf)
    pos = start
    while pos + LOG_OVERHEAD <= end:
        length = _INT32.unpack_from(buf, pos + 8)[0]
        if length < LEGACY_MIN_MESSAGE_SIZE:
            raise CorruptMessage(
                f"entry at position {pos} declares size {length}, below the minimum {LEGACY_MIN_MESSAGE_SIZE}"
            )
        size = length + LOG_OVERHEAD
        if pos + size > end:
            return
        magic = _INT8.unpack_from(buf, pos + MAGIC_OFFSET)[0]
        yield pos, magic, buf[pos:pos + size]
        pos += size


def iter_batches(buf: memoryview, *, start: int = 0) -> Iterator[tuple[int, RecordBatchView]]:
    """Yield ``(position, view)`` for each complete batch of magic >= 2 in ``buf``.

    Legacy magic 0/1 entries are skipped (``records.legacy`` decodes them); a trailing partial
    batch ends the walk silently.

    Raises:
        CorruptMessage: an entry's declared size is impossible (see :func:`iter_log_entries`),
            or a magic >= 2 entry is shorter than the 61-byte batch header.
    """
    for pos, magic, entry in iter_log_entries(buf, start=start):
        if magic >= MAGIC_V2:
            yield pos, RecordBatchView(entry)
