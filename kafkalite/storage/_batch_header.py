"""The few record batch v2 header fields storage needs, parsed without the records package.

Why a private copy: storage (L2) must work on its own bytes (recovery, index rebuild, offset
lookup) and must not wait for, or re-implement, ``kafkalite.records``. It only reads the fixed
61-byte header of a record batch v2 (wire-protocol.md §4) and patches the three fields the
leader owns. Everything from byte 61 on (the records, maybe compressed) is opaque here.

Header layout (big-endian)::

    @0  baseOffset int64        @8  batchLength int32 (bytes after this field = size - 12)
    @12 partitionLeaderEpoch    @16 magic int8 (2)      @17 crc uint32 (CRC-32C of [21:end])
    @21 attributes int16        @23 lastOffsetDelta int32
    @27 baseTimestamp int64     @35 maxTimestamp int64
    @43 producerId int64        @51 producerEpoch int16 @53 baseSequence int32
    @57 recordsCount int32      @61 records...

baseOffset, batchLength and partitionLeaderEpoch are outside the CRC, so assigning offsets and
the leader epoch needs no CRC recomputation; LogAppendTime (attributes bit 3 + maxTimestamp)
does.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import crc32c

__all__ = [
    "HEADER", "HEADER_SIZE", "LOG_OVERHEAD", "MAGIC_V2", "BatchHeader", "parse_header",
    "batch_crc_ok", "set_base_offset", "set_partition_leader_epoch", "set_leader_fields",
    "set_log_append_time",
    "last_sequence", "TIMESTAMP_TYPE_BIT", "NO_PRODUCER_ID",
]

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61, Kafka's RECORD_BATCH_OVERHEAD
LOG_OVERHEAD = 12  # baseOffset + batchLength
MAGIC_V2 = 2
TIMESTAMP_TYPE_BIT = 0x08
NO_PRODUCER_ID = -1
_CRC_START = 21

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_OFFSET_LENGTH_EPOCH = struct.Struct(">qii")
_MAX_SEQUENCE = 2**31 - 1


class BatchHeader(NamedTuple):
    """The parsed 61-byte header of one record batch (a NamedTuple: parsing is hot)."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Whole batch size in bytes, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def last_sequence(self) -> int:
        return last_sequence(self.base_sequence, self.last_offset_delta)


def parse_header(buf, position: int = 0) -> BatchHeader:
    """Unpack the header at ``position`` of any buffer (bytes, bytearray, memoryview)."""
    return BatchHeader._make(HEADER.unpack_from(buf, position))


def batch_crc_ok(batch) -> bool:
    """True when the stored CRC-32C matches bytes 21..end of one whole batch."""
    (stored,) = _UINT32.unpack_from(batch, 17)
    return crc32c.crc32c(memoryview(batch)[_CRC_START:]) == stored


def set_base_offset(batch: memoryview, offset: int) -> None:
    _INT64.pack_into(batch, 0, offset)


def set_partition_leader_epoch(batch: memoryview, epoch: int) -> None:
    _INT32.pack_into(batch, 12, epoch)


def set_leader_fields(batch: memoryview, offset: int, batch_length: int, epoch: int) -> None:
    """baseOffset and partitionLeaderEpoch in one call; ``batch_length`` (between them) is
    written back unchanged."""
    _OFFSET_LENGTH_EPOCH.pack_into(batch, 0, offset, batch_length, epoch)


def set_log_append_time(batch: memoryview, timestamp_ms: int) -> None:
    """Mark the batch LogAppendTime, store ``timestamp_ms`` as maxTimestamp, refresh the CRC."""
    (attributes,) = _INT16.unpack_from(batch, 21)
    _INT16.pack_into(batch, 21, attributes | TIMESTAMP_TYPE_BIT)
    _INT64.pack_into(batch, 35, timestamp_ms)
    _UINT32.pack_into(batch, 17, crc32c.crc32c(batch[_CRC_START:]))


def last_sequence(base_sequence: int, last_offset_delta: int) -> int:
    """Sequence of the last record of a batch; sequences wrap from 2**31-1 to 0 (Kafka)."""
    if base_sequence < 0:
        return base_sequence
    if base_sequence > _MAX_SEQUENCE - last_offset_delta:
        return last_offset_delta - (_MAX_SEQUENCE - base_sequence) - 1
    return base_sequence + last_offset_delta
