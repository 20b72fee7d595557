"""Broker-side validation of a Produce partition's records, from batch headers alone.

This is the hot path of every produce: it reads the fixed 61-byte headers, runs one CRC-32C over
each batch (C speed, over a memoryview slice: no copy) and never decompresses or visits records.

Checks, in the order Kafka applies them (``ProduceRequest.validateRecords``, then
``UnifiedLog.analyzeAndValidateRecords``, then ``LogValidator.validateBatch``), with the error
each one raises:

=====================================================  =============================
every byte belongs to a whole entry                    CorruptMessage
magic == 2 (Produce v3+ carries only v2 batches)       InvalidRecord
declared size >= 61-byte header                        CorruptMessage
zstd only when allowed (Produce v7+)                   UnsupportedCompressionType
at most one batch (``require_single_batch``)           InvalidRecord
size_in_bytes <= max_batch_bytes                       MessageTooLarge
CRC-32C matches                                        CorruptMessage
recordsCount > 0 and lastOffsetDelta == count - 1      InvalidRecord
not a control batch (only brokers write those)         InvalidRecord
idempotent batch has baseSequence >= 0                 InvalidRecord
=====================================================  =============================

Compressed records are not inflated here (Kafka streams through them; kafkalite keeps the hot
path to headers). Where the broker does inflate a batch — the non-null-key check of compacted
topics, the cleaner, timestamp lookups — ``compression.decompress`` bounds the output, so a
small payload that would inflate hugely (a "bomb") is refused with CORRUPT_MESSAGE before it
can exhaust memory.

Kafka 3.x reports a non-v2 batch in Produce v3+ as INVALID_RECORD (older brokers said
CORRUPT_MESSAGE, which clients retry forever). Not checked here, because they need topic config
or producer state: timestamps against ``message.timestamp.difference.max.ms``, producer
epoch/sequence continuity, compaction's non-null keys.
"""

from __future__ import annotations

import struct

import crc32c

from kafkalite.compression import ZSTD
from kafkalite.errors import (
    CorruptMessage,
    InvalidRecord,
    MessageTooLarge,
    UnsupportedCompressionType,
)
from kafkalite.records.batch import (
    COMPRESSION_MASK,
    CONTROL_MASK,
    HEADER,
    LEGACY_MIN_MESSAGE_SIZE,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    MAGIC_V2,
    RECORD_BATCH_OVERHEAD,
    RecordBatchView,
)

_trusted_view = RecordBatchView.of_checked_batch

__all__ = ["validate_batches"]

# The length at 8 first (is there a whole entry?), then, once at least the 61-byte header is
# known to be there, the whole header in one call: the checks need five of its fields and the
# log needs the rest (``headers``), so nobody unpacks it twice.
_LENGTH = struct.Struct(">i")
_unpack_header = HEADER.unpack_from


def validate_batches(buf: memoryview, *, max_batch_bytes: int, allow_zstd: bool = True,
                     require_single_batch: bool = False,
                     from_coordinator: bool = False,
                     headers: list[tuple] | None = None) -> list[RecordBatchView]:
    """Validate a partition's produce records without decompressing; return a view per batch.

    Args:
        buf: the partition's ``records`` bytes (a memoryview; writable if the caller will then
            patch offsets through the returned views).
        max_batch_bytes: the topic's ``max.message.bytes``; compared with each batch's total
            size including the 12-byte offset + length prefix, as Kafka does.
        allow_zstd: False for Produce < v7.
        require_single_batch: enforce Kafka's one-batch-per-partition rule of Produce v3+.
            An empty ``buf`` then fails too.
        from_coordinator: the batches come from this broker's coordinators (transaction
            markers, transactional offset commits), not from a client: control batches and
            producer ids without sequences are allowed.
        headers: if given, the parsed 61-byte header of each batch (a ``HEADER.unpack_from``
            tuple, before any patching) is appended to it, so the log does not parse the
            header again (``Log.append_validated_as_leader``).

    Returns:
        Views over ``buf`` (no copies), in order.

    Raises:
        CorruptMessage, InvalidRecord, MessageTooLarge, UnsupportedCompressionType: see the
            module docstring.
    """
    if not isinstance(buf, memoryview):
        buf = memoryview(buf)
    end = len(buf)
    views: list[RecordBatchView] = []
    pos = 0
    while pos < end:
        if end - pos < LOG_OVERHEAD:
            raise CorruptMessage(f"{end - pos} trailing bytes after the last record batch")
        size = _LENGTH.unpack_from(buf, pos + 8)[0] + LOG_OVERHEAD
        if size < LOG_OVERHEAD + LEGACY_MIN_MESSAGE_SIZE:
            raise CorruptMessage(f"entry at position {pos} declares an impossible size of {size} bytes")
        if pos + size > end:
            raise CorruptMessage(
                f"record batch at position {pos} declares {size} bytes but only {end - pos} remain"
            )
        magic = buf[pos + MAGIC_OFFSET]
        if magic != MAGIC_V2:
            raise InvalidRecord(f"produce requests may only contain record batches with magic 2, got magic {magic}")
        if size < RECORD_BATCH_OVERHEAD:
            raise CorruptMessage(
                f"record batch at position {pos} declares {size} bytes, less than the "
                f"{RECORD_BATCH_OVERHEAD}-byte header"
            )
        header = _unpack_header(buf, pos)
        attributes = header[5]
        if not allow_zstd and attributes & COMPRESSION_MASK == ZSTD:
            raise UnsupportedCompressionType("produce requests below version 7 may not use zstd compression")
        if require_single_batch and views:
            raise InvalidRecord("produce requests may contain exactly one record batch per partition")
        if size > max_batch_bytes:
            raise MessageTooLarge(
                f"record batch of {size} bytes exceeds the maximum of {max_batch_bytes} bytes"
            )
        batch = buf[pos:pos + size]
        computed = crc32c.crc32c(batch[21:])
        if computed != header[4]:
            raise CorruptMessage(f"record batch is corrupt (stored crc = {header[4]}, computed crc = {computed})")
        count = header[12]
        if count <= 0:
            raise InvalidRecord(f"invalid record count {count} in record batch")
        if header[6] != count - 1:
            raise InvalidRecord(
                f"inconsistent record batch: lastOffsetDelta {header[6]} for {count} records"
            )
        if attributes & CONTROL_MASK and not from_coordinator:
            raise InvalidRecord("clients may not write control records")
        if header[11] < 0 and not from_coordinator and header[9] >= 0:
            raise InvalidRecord(f"invalid sequence number {header[11]} in an idempotent record batch")
        views.append(_trusted_view(batch))
        if headers is not None:
            headers.append(header)
        pos += size
    if require_single_batch and not views:
        raise InvalidRecord("produce requests must contain one record batch per partition")
    return views
