"""Legacy message sets (magic 0 and 1): decoding for tools and tests, encoding for tests.

kafkalite's broker speaks only Produce v3+ / Fetch v4+, so it never stores these; clients and
old files still carry them (wire-protocol.md §5). Layout of one entry (big-endian)::

    offset int64 | message_size int32 | crc uint32 | magic int8 | attributes int8
    | timestamp int64 (magic 1 only) | key int32 len + bytes (-1 null) | value int32 len + bytes

The CRC is CRC-32 (IEEE, ``zlib.crc32``) over magic .. end of value. Attributes: bits 0-2 codec,
bit 3 LogAppendTime (magic 1).

Compression wraps a whole inner message set as the value of one *wrapper* message (null key):

* magic 0: inner messages carry absolute offsets;
* magic 1 (KIP-31): inner offsets are relative; the wrapper carries the absolute offset of the
  *last* inner message, so ``absolute = wrapper_offset - last_relative + relative``. The wrapper
  timestamp is the max inner timestamp, or the append time under LogAppendTime, which then
  applies to every inner message.

Nested compression is not allowed. Pre-0.10 Kafka wrote LZ4 frames with a wrong header checksum;
``compression.decompress`` repairs them and the encoder reproduces them for magic 0.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

from kafkalite.compression import LZ4, NONE, compress, decompress, lz4_frame_encode
from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import (
    COMPRESSION_MASK,
    CREATE_TIME,
    LOG_APPEND_TIME,
    LOG_OVERHEAD,
    NO_TIMESTAMP,
    TIMESTAMP_TYPE_MASK,
    iter_log_entries,
)
from kafkalite.records.record import Record

__all__ = ["decode_legacy_entry", "encode_message", "build_legacy_message_set"]

_PREFIX = struct.Struct(">qiIbb")  # offset, size, crc, magic, attributes
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_CRC_START = 16  # magic byte: start of the CRC-covered range


def decode_legacy_entry(entry: memoryview, *, check_crc: bool = False, _inner: bool = False) -> list[Record]:
    """Decode one magic 0/1 entry (offset + size + message) into its record(s).

    A compressed wrapper yields its inner messages with absolute offsets.

    Raises:
        CorruptMessage: truncated fields, a failed CRC check, nested compression, or bad
            compressed data.
    """
    if len(entry) < LOG_OVERHEAD + 14:
        raise CorruptMessage(f"legacy message of {len(entry)} bytes is too short")
    offset, _size, crc, magic, attributes = _PREFIX.unpack_from(entry, 0)
    if magic not in (0, 1):
        raise CorruptMessage(f"magic {magic} inside a legacy message set")
    if check_crc and zlib.crc32(entry[_CRC_START:]) != crc:
        raise CorruptMessage(f"legacy message at offset {offset} is corrupt (stored crc = {crc})")
    pos = 18
    if magic == 1:
        if len(entry) < pos + 8:
            raise CorruptMessage("legacy message truncated in its timestamp")
        timestamp = _INT64.unpack_from(entry, pos)[0]
        pos += 8
        timestamp_type = LOG_APPEND_TIME if attributes & TIMESTAMP_TYPE_MASK else CREATE_TIME
    else:
        timestamp = NO_TIMESTAMP
        timestamp_type = CREATE_TIME
    key, pos = _read_bytes(entry, pos)
    value, pos = _read_bytes(entry, pos)
    if pos != len(entry):
        raise CorruptMessage(f"legacy message has {len(entry) - pos} trailing bytes")

    codec = attributes & COMPRESSION_MASK
    if codec == NONE:
        return [Record(offset, timestamp, key, value, (), timestamp_type)]
    if _inner:
        raise CorruptMessage("nested compression inside a legacy wrapper message")
    if value is None:
        raise CorruptMessage("compressed legacy wrapper with a null value")
    inner_data = memoryview(decompress(codec, value))
    inner: list[Record] = []
    consumed = 0
    for inner_pos, _magic, inner_entry in iter_log_entries(inner_data):
        inner.extend(decode_legacy_entry(inner_entry, check_crc=check_crc, _inner=True))
        consumed = inner_pos + len(inner_entry)
    if consumed != len(inner_data) or not inner:
        raise CorruptMessage("compressed legacy wrapper holds a truncated or empty message set")
    shift = offset - inner[-1].offset if magic > 0 else 0
    append_time = timestamp if timestamp_type == LOG_APPEND_TIME else None
    return [
        Record(
            r.offset + shift,
            append_time if append_time is not None else r.timestamp,
            r.key,
            r.value,
            (),
            timestamp_type if append_time is not None else r.timestamp_type,
        )
        for r in inner
    ]


def _read_bytes(entry: memoryview, pos: int) -> tuple[bytes | None, int]:
    if pos + 4 > len(entry):
        raise CorruptMessage("legacy message truncated in a length field")
    length = _INT32.unpack_from(entry, pos)[0]
    pos += 4
    if length < 0:
        return None, pos
    if pos + length > len(entry):
        raise CorruptMessage(f"legacy field of {length} bytes overruns its message")
    return bytes(entry[pos:pos + length]), pos + length


def encode_message(offset: int, magic: int, attributes: int, timestamp: int,
                   key: bytes | None, value: bytes | None) -> bytes:
    """One legacy entry: offset + size + message, with its CRC-32."""
    parts = [struct.pack(">bb", magic, attributes)]
    if magic == 1:
        parts.append(_INT64.pack(timestamp))
    for field in (key, value):
        if field is None:
            parts.append(_INT32.pack(-1))
        else:
            parts.append(_INT32.pack(len(field)))
            parts.append(bytes(field))
    body = b"".join(parts)
    crc = zlib.crc32(body)
    return struct.pack(">qiI", offset, len(body) + 4, crc) + body


def build_legacy_message_set(records: Sequence[tuple], magic: int, compression: int = NONE, *,
                             base_offset: int = 0, timestamp_type: int = CREATE_TIME) -> bytes:
    """Encode ``(key, value, headers, timestamp_ms)`` tuples as a magic 0/1 message set.

    Offsets run from ``base_offset``. Compressed sets are one wrapper message laid out as the
    Kafka version of that magic wrote it (relative inner offsets for magic 1; for magic 0 with
    LZ4, pre-0.10 Kafka's broken frame header checksum).

    Raises:
        ValueError: a record has headers (legacy messages have none), or a bad magic.
    """
    if magic not in (0, 1):
        raise ValueError(f"legacy magic must be 0 or 1, not {magic}")
    for record in records:
        if record[2]:
            raise ValueError("legacy messages cannot carry headers")
    ts_attr = TIMESTAMP_TYPE_MASK if magic == 1 and timestamp_type == LOG_APPEND_TIME else 0
    if compression == NONE:
        return b"".join(
            encode_message(base_offset + i, magic, ts_attr, ts, key, value)
            for i, (key, value, _h, ts) in enumerate(records)
        )
    inner = b"".join(
        encode_message(base_offset + i if magic == 0 else i, magic, 0, ts, key, value)
        for i, (key, value, _h, ts) in enumerate(records)
    )
    if compression == LZ4 and magic == 0:
        blob = lz4_frame_encode(inner, broken_header_checksum=True)
    else:
        blob = compress(compression, inner)
    max_ts = max((r[3] for r in records), default=NO_TIMESTAMP)
    wrapper_offset = base_offset + max(len(records) - 1, 0)
    return encode_message(wrapper_offset, magic, compression | ts_attr, max_ts, None, blob)
