"""Encoding record batches v2 (client side, tests, and broker-written internal records).

The header layout is in ``records.batch``, the record layout in ``records.record``. Building
goes: encode each record (varints, offset deltas 0..n-1, timestamp deltas against the base
timestamp), concatenate, compress the whole blob once, write the 61-byte header with CRC 0, then
CRC-32C bytes 21..end into the CRC field. baseTimestamp defaults to the first record's timestamp
and maxTimestamp is the largest record timestamp, as Kafka's producers write them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import crc32c

from kafkalite.compression import CODEC_NAME_BY_ID, NONE, compress
from kafkalite.errors import UnsupportedCompressionType
from kafkalite.records.batch import (
    COMPRESSION_MASK,
    CONTROL_MASK,
    CREATE_TIME,
    HEADER,
    LOG_APPEND_TIME,
    LOG_OVERHEAD,
    MAGIC_V2,
    NO_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK,
)
from kafkalite.records.control import ControlType, encode_control_key, encode_control_value
from kafkalite.records.legacy import build_legacy_message_set
from kafkalite.records.record import Header
from kafkalite.records.varint import encode_varint

__all__ = ["encode_record", "build_batch", "build_control_batch", "build_legacy_message_set"]

# (key, value, headers, timestamp_ms) — the shape every builder here takes.
RecordTuple = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]], int]

_NULL = encode_varint(-1)


def _nullable(data) -> bytes:
    if data is None:
        return _NULL
    return encode_varint(len(data)) + bytes(data)


def encode_record(offset_delta: int, timestamp_delta: int, key, value,
                  headers: Iterable[tuple[str, bytes | None] | Header] = ()) -> bytes:
    """One record, length prefix included.

    ``headers`` items are ``(key, value)`` pairs or :class:`Header`; keys are ``str`` (UTF-8)
    or bytes.
    """
    parts = [b"\x00", encode_varint(timestamp_delta), encode_varint(offset_delta),
             _nullable(key), _nullable(value)]
    header_list = list(headers)
    parts.append(encode_varint(len(header_list)))
    for header in header_list:
        h_key, h_value = (header.key, header.value) if isinstance(header, Header) else header
        if isinstance(h_key, str):
            h_key = h_key.encode("utf-8")
        parts.append(_nullable(h_key))
        parts.append(_nullable(h_value))
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def build_batch(records: Sequence[RecordTuple], *, base_offset: int = 0, compression: int = NONE,
                producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                partition_leader_epoch: int = -1, timestamp_type: int = CREATE_TIME,
                is_transactional: bool = False, base_timestamp: int | None = None) -> bytes:
    """Encode records as one v2 batch with a correct CRC-32C.

    Args:
        records: ``(key, value, headers, timestamp_ms)`` tuples; offset deltas are 0..n-1.
            ``headers`` is a sequence of ``(str, bytes | None)`` pairs.
        base_offset: written as is (producers send 0; the leader reassigns it).
        compression: codec id from ``kafkalite.compression``.
        producer_id, producer_epoch, base_sequence: idempotence fields (-1 = none).
        partition_leader_epoch: -1 from producers.
        timestamp_type: CREATE_TIME (0) or LOG_APPEND_TIME (1).
        is_transactional: set attribute bit 4.
        base_timestamp: defaults to the first record's timestamp (-1 for an empty batch).

    Returns:
        The batch bytes. An empty ``records`` gives a 61-byte batch with count 0 and
        lastOffsetDelta -1.

    Raises:
        UnsupportedCompressionType: ``compression`` is not a known codec id.
    """
    if compression not in CODEC_NAME_BY_ID:
        raise UnsupportedCompressionType(f"unknown compression codec id {compression}")
    attributes = compression
    if timestamp_type == LOG_APPEND_TIME:
        attributes |= TIMESTAMP_TYPE_MASK
    if is_transactional:
        attributes |= TRANSACTIONAL_MASK
    return _build(records, attributes, base_offset=base_offset, producer_id=producer_id,
                  producer_epoch=producer_epoch, base_sequence=base_sequence,
                  partition_leader_epoch=partition_leader_epoch, base_timestamp=base_timestamp)


def build_control_batch(control_type: int, *, producer_id: int, producer_epoch: int,
                        coordinator_epoch: int, timestamp_ms: int, base_offset: int = 0,
                        partition_leader_epoch: int = -1) -> bytes:
    """A transaction marker batch: one control record, transactional + control bits set.

    Args:
        control_type: ``ControlType.COMMIT`` or ``ControlType.ABORT``.
        producer_id, producer_epoch: the transactional producer whose transaction ends.
        coordinator_epoch: epoch of the transaction coordinator writing the marker.
        timestamp_ms: the marker's timestamp (the leader's clock, passed in).
    """
    record = (encode_control_key(ControlType(control_type)), encode_control_value(coordinator_epoch),
              (), timestamp_ms)
    return _build([record], TRANSACTIONAL_MASK | CONTROL_MASK, base_offset=base_offset,
                  producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=-1,
                  partition_leader_epoch=partition_leader_epoch, base_timestamp=None)


def _build(records: Sequence[RecordTuple], attributes: int, *, base_offset: int, producer_id: int,
           producer_epoch: int, base_sequence: int, partition_leader_epoch: int,
           base_timestamp: int | None) -> bytes:
    if base_timestamp is None:
        base_timestamp = records[0][3] if records else NO_TIMESTAMP
    max_timestamp = max((r[3] for r in records), default=base_timestamp)
    blob = b"".join(
        encode_record(i, timestamp - base_timestamp, key, value, headers)
        for i, (key, value, headers, timestamp) in enumerate(records)
    )
    codec = attributes & COMPRESSION_MASK
    if codec != NONE:
        blob = compress(codec, blob)
    buf = bytearray(RECORD_BATCH_OVERHEAD + len(blob))
    HEADER.pack_into(
        buf, 0,
        base_offset,
        len(buf) - LOG_OVERHEAD,
        partition_leader_epoch,
        MAGIC_V2,
        0,  # crc, filled below
        attributes,
        len(records) - 1,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        len(records),
    )
    buf[RECORD_BATCH_OVERHEAD:] = blob
    crc = crc32c.crc32c(memoryview(buf)[21:])
    buf[17:21] = crc.to_bytes(4, "big")
    return bytes(buf)
