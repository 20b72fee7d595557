"""The record batch of one coordinator append, built in one pass.

Every offset commit appends a batch to ``__consumer_offsets``, so this is on the commit path.
The batch is byte for byte what ``records.builder.build_batch`` writes for
``[(key, value, (), timestamp_ms), ...]`` (tests compare the two), without its generality:
no headers, no compression, every record with timestamp delta 0, and the buffer is the
``bytearray`` the log appends in place (the leader assigns offsets into it).
"""

from __future__ import annotations

from collections.abc import Sequence

import crc32c

from kafkalite.records.batch import (
    CRC_OFFSET, HEADER, LOG_OVERHEAD, MAGIC_V2, RECORD_BATCH_OVERHEAD, TRANSACTIONAL_MASK)
from kafkalite.records.varint import encode_varint

__all__ = ["offsets_batch"]

_CRC_START = CRC_OFFSET + 4
# A record's attributes (0) and timestamp delta (varint 0).
_RECORD_HEAD = b"\x00\x00"
_NULL_VALUE = b"\x01"        # varint -1
_NO_HEADERS = b"\x00"        # varint 0
# Zig-zag varints of 0..63, one byte each (record lengths of a commit are small).
_SMALL = [encode_varint(i) for i in range(64)]


def offsets_batch(records: Sequence[tuple[bytes, bytes | None]], timestamp_ms: int, *,
                  producer_id: int = -1, producer_epoch: int = -1,
                  transactional: bool = False) -> bytearray:
    """A v2 batch of ``(key, value)`` records (value None: a tombstone), all stamped
    ``timestamp_ms``. A transactional batch has base sequence 0, as Kafka writes a
    transactional offset commit."""
    parts = [b""]
    append = parts.append
    small = _SMALL
    for i, (key, value) in enumerate(records):
        n = len(key)
        body = b"".join((_RECORD_HEAD, small[i] if i < 64 else encode_varint(i),
                         small[n] if n < 64 else encode_varint(n), key,
                         _NULL_VALUE if value is None
                         else (small[len(value)] if len(value) < 64
                               else encode_varint(len(value))) + value, _NO_HEADERS))
        n = len(body)
        append(small[n] if n < 64 else encode_varint(n))
        append(body)
    blob = b"".join(parts)
    if not records:
        timestamp_ms = -1   # as build_batch writes an empty batch
    buf = bytearray(RECORD_BATCH_OVERHEAD + len(blob))
    HEADER.pack_into(buf, 0, 0, len(buf) - LOG_OVERHEAD, -1, MAGIC_V2, 0,
                     TRANSACTIONAL_MASK if transactional else 0, len(records) - 1,
                     timestamp_ms, timestamp_ms, producer_id, producer_epoch,
                     0 if transactional else -1, len(records))
    buf[RECORD_BATCH_OVERHEAD:] = blob
    buf[CRC_OFFSET:_CRC_START] = crc32c.crc32c(memoryview(buf)[_CRC_START:]).to_bytes(4, "big")
    return buf
