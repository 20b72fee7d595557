"""Decoded records: the client/tool side of the record format.

Record layout inside a v2 batch (every integer a zig-zag varint, see ``records.varint``)::

    length            bytes after this field
    attributes int8   unused, 0
    timestampDelta    varlong, relative to the batch's baseTimestamp
    offsetDelta       relative to the batch's baseOffset
    keyLength, key    -1 = null
    valueLength, value
    headerCount
    headers           keyLength, key (UTF-8, never null), valueLength (-1 = null), value

If the batch is compressed, all records together form one compressed blob after the header.
Absolute offsets and timestamps come from the batch header; under LogAppendTime every record's
timestamp is the batch's maxTimestamp, as Kafka's consumers report it.

The broker never decodes records on its hot path (``records.validate`` works on headers only);
this module serves tools, tests, compaction and the group coordinator's own topics.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from kafkalite.compression import decompress
from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import (
    LOG_APPEND_TIME,
    MAGIC_V2,
    RecordBatchView,
    iter_log_entries,
)
from kafkalite.records.varint import read_varint

__all__ = ["Header", "Record", "decode_records", "iter_records"]


@attrs.frozen
class Header:
    """One record header: a UTF-8 key and nullable bytes."""

    key: str
    value: bytes | None


@attrs.frozen
class Record:
    """One decoded record with absolute offset and timestamp.

    ``timestamp_type`` is 0 (CreateTime) or 1 (LogAppendTime); legacy magic-0 records have
    timestamp -1.
    """

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_type: int = 0


def decode_records(view: RecordBatchView) -> list[Record]:
    """Decode every record of one v2 batch, decompressing if needed.

    Control batches decode like any other (their single record's key/value hold the marker;
    see ``records.control.parse_control_record``); check ``view.is_control`` to tell them apart.
    The CRC is not checked here: call ``view.is_valid()`` first if the bytes are untrusted.

    Args:
        view: a batch of magic 2.

    Returns:
        The records in offset order.

    Raises:
        CorruptMessage: bad varints, lengths that overrun their record, a record count that does
            not match the data, or undecodable compressed data.
        UnsupportedCompressionType: unknown codec id in the attributes.
    """
    if view.magic != MAGIC_V2:
        raise CorruptMessage(f"cannot decode records of a magic {view.magic} batch as v2")
    codec = view.compression
    data = decompress(codec, view.records_data) if codec else bytes(view.records_data)
    count = view.records_count
    if count < 0:
        raise CorruptMessage(f"negative record count {count}")
    base_offset = view.base_offset
    base_timestamp = view.base_timestamp
    timestamp_type = view.timestamp_type
    append_time = view.max_timestamp if timestamp_type == LOG_APPEND_TIME else None

    out: list[Record] = []
    pos = 0
    end = len(data)
    for _ in range(count):
        if pos >= end:
            raise CorruptMessage(f"batch declares {count} records but holds only {len(out)}")
        length, pos = read_varint(data, pos)
        record_end = pos + length
        if length <= 0 or record_end > end:
            raise CorruptMessage(f"record length {length} overruns the batch data")
        pos += 1  # record attributes: unused
        timestamp_delta, pos = read_varint(data, pos)
        offset_delta, pos = read_varint(data, pos)
        key, pos = _read_nullable(data, pos, record_end)
        value, pos = _read_nullable(data, pos, record_end)
        header_count, pos = read_varint(data, pos)
        if header_count < 0:
            raise CorruptMessage(f"negative header count {header_count}")
        headers = []
        for _ in range(header_count):
            header_key, pos = _read_nullable(data, pos, record_end)
            if header_key is None:
                raise CorruptMessage("null header key")
            header_value, pos = _read_nullable(data, pos, record_end)
            headers.append(Header(header_key.decode("utf-8", "replace"), header_value))
        if pos != record_end:
            raise CorruptMessage(f"record declares {length} bytes but its fields use {length + pos - record_end}")
        out.append(Record(
            base_offset + offset_delta,
            append_time if append_time is not None else base_timestamp + timestamp_delta,
            key,
            value,
            tuple(headers),
            timestamp_type,
        ))
    if pos != end:
        raise CorruptMessage(f"{end - pos} bytes left after the batch's {count} declared records")
    return out


def _read_nullable(data: bytes, pos: int, limit: int) -> tuple[bytes | None, int]:
    length, pos = read_varint(data, pos)
    if length < 0:
        return None, pos
    end = pos + length
    if end > limit:
        raise CorruptMessage(f"field of {length} bytes overruns its record")
    return data[pos:end], end


def iter_records(buf, *, skip_control: bool = True, check_crc: bool = False) -> Iterator[Record]:
    """Decode records of concatenated batches (a fetch response's records, a log segment).

    Handles v2 batches and legacy magic 0/1 message sets (including compressed wrappers); stops
    silently at a trailing partial entry, as consumers do.

    Args:
        buf: bytes-like holding whole entries, possibly followed by a partial one.
        skip_control: leave out control batches (transaction markers), as consumers do.
        check_crc: verify each batch's / message's CRC first.

    Raises:
        CorruptMessage: corrupt data, a failed CRC check, or an unknown magic.
        UnsupportedCompressionType: unknown codec id in a batch's attributes.
    """
    from kafkalite.records.legacy import decode_legacy_entry

    for pos, magic, entry in iter_log_entries(memoryview(buf)):
        if magic == MAGIC_V2:
            view = RecordBatchView(entry)
            if check_crc and not view.is_valid():
                raise CorruptMessage(
                    f"record batch at position {pos} is corrupt (stored crc = {view.crc}, "
                    f"computed crc = {view.compute_crc()})"
                )
            if skip_control and view.is_control:
                continue
            yield from decode_records(view)
        elif magic in (0, 1):
            yield from decode_legacy_entry(entry, check_crc=check_crc)
        else:
            raise CorruptMessage(f"unknown magic {magic} at position {pos}")
