"""Records of ``__transaction_state``: Kafka's binary key/value schemas, byte for byte.

Each record describes one transactional id; the topic is compacted, so the latest record of an
id is its state and a tombstone (null value) means the id expired. Big-endian throughout.

Key (TransactionLogKey, only version 0)::

    int16 0 | string transactional_id                      (string = int16 length + UTF-8)

Value version 0 (TransactionLogValue v0, non-flexible; what Kafka 2.8 writes and what WE
WRITE)::

    int16 0 | int64 producer_id | int16 producer_epoch | int32 transaction_timeout_ms
    | int8 transaction_status (TxnState byte)
    | int32 n (-1 = null), then n times: string topic | int32 m | m x int32 partition
    | int64 last_update_timestamp_ms | int64 start_timestamp_ms

  The partition array is null exactly when the state is Empty (Kafka writes null then, and
  ignores partitions of an Empty record when reading); otherwise partitions are grouped by topic.

Value version 1 (flexible, KIP-482; written by Kafka 4.x with transaction.version >= 1; we only
READ it so a log written by a newer broker still loads)::

    int16 1 | int64 producer_id | int16 producer_epoch | int32 transaction_timeout_ms
    | int8 transaction_status
    | uvarint n+1 (0 = null), then n times:
          compact string topic | uvarint m+1, m x int32 partition | tagged fields
    | int64 last_update_timestamp_ms | int64 start_timestamp_ms | tagged fields

  compact string = uvarint (length + 1) + UTF-8. Tagged fields = uvarint count, then per
  field uvarint tag | uvarint size | data, tags ascending. Known tags of the value:
  0 PreviousProducerId (int64, default -1), 1 NextProducerId (int64, default -1),
  2 ClientTransactionVersion (int16, default 0). Unknown tags are skipped.

A null value is a tombstone: :func:`decode_value` returns None.

:func:`format_key` / :func:`format_value` print a record the way
``kafka-dump-log.sh --transaction-log-decoder`` does (Kafka's
``TransactionLog.formatRecordKeyAndValue``). Kafka prints the partitions of a HashSet, in no
particular order; we print them in record order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from kafkalite.coordinator.transaction.state import TxnState
from kafkalite.errors import ProtocolViolation
from kafkalite.model import TopicPartition
from kafkalite.protocol.primitives import read_uvarint

__all__ = ["TxnLogValue", "SchemaError", "encode_key", "decode_key", "encode_value",
           "decode_value", "format_key", "format_value", "KEY_VERSION", "VALUE_VERSION"]

KEY_VERSION = 0
VALUE_VERSION = 0  # the version we write; 0 and 1 are read

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEAD = struct.Struct(">hqhib")      # version, producer id, epoch, timeout, status
_TIMESTAMPS = struct.Struct(">qq")   # last update, start

_TAG_PREVIOUS_PRODUCER_ID = 0
_TAG_NEXT_PRODUCER_ID = 1
_TAG_CLIENT_TRANSACTION_VERSION = 2


class SchemaError(ValueError):
    """A record of ``__transaction_state`` that does not parse (unknown version, truncated,
    unknown state byte)."""


@attrs.frozen(kw_only=True)
class TxnLogValue:
    """The value of a ``__transaction_state`` record.

    ``partitions`` keeps record order (topic groups as written); it is empty for EMPTY.
    The last three fields exist only in version 1 records; version 0 records decode to the
    defaults, and :func:`encode_value` (version 0) does not write them.
    """

    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState
    partitions: tuple[TopicPartition, ...] = ()
    last_update_ms: int
    start_ms: int
    previous_producer_id: int = -1
    next_producer_id: int = -1
    client_transaction_version: int = 0


# -- writing -------------------------------------------------------------------------------


def _str(s: str) -> bytes:
    data = s.encode("utf-8")
    return _I16.pack(len(data)) + data


def encode_key(transactional_id: str) -> bytes:
    """Key bytes (version 0) of a transactional id."""
    return _I16.pack(KEY_VERSION) + _str(transactional_id)


def _group_by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for tp in partitions:
        groups.setdefault(tp.topic, []).append(tp.partition)
    return groups


def encode_value(value: TxnLogValue) -> bytes:
    """Value bytes, version 0 (Kafka 2.8's format).

    Raises:
        ValueError: an EMPTY value with partitions (Kafka refuses to write it too).
    """
    if value.state is TxnState.EMPTY and value.partitions:
        raise ValueError(f"an Empty transaction has no partitions: {value}")
    parts = [_HEAD.pack(VALUE_VERSION, value.producer_id, value.producer_epoch,
                        value.timeout_ms, value.state.value)]
    if value.state is TxnState.EMPTY:
        parts.append(_I32.pack(-1))
    else:
        groups = _group_by_topic(value.partitions)
        parts.append(_I32.pack(len(groups)))
        for topic, ids in groups.items():
            parts += [_str(topic), _I32.pack(len(ids)), struct.pack(f">{len(ids)}i", *ids)]
    parts.append(_TIMESTAMPS.pack(value.last_update_ms, value.start_ms))
    return b"".join(parts)


# -- reading -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SchemaError(f"record truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, s: struct.Struct) -> tuple:
        return s.unpack(self.take(s.size))

    def i32(self) -> int:
        return self.unpack(_I32)[0]

    def uvarint(self) -> int:
        try:
            value, self.pos = read_uvarint(self.data, self.pos)
        except IndexError:
            raise SchemaError(f"varint truncated at byte {self.pos}") from None
        except ProtocolViolation as e:
            raise SchemaError(str(e)) from None
        return value

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise SchemaError(f"invalid UTF-8 string: {e}") from None

    def string(self) -> str:
        n = self.unpack(_I16)[0]
        if n < 0:
            raise SchemaError("null where a string is required")
        return self.text(n)

    def compact_string(self) -> str:
        n = self.uvarint() - 1
        if n < 0:
            raise SchemaError("null where a string is required")
        return self.text(n)

    def tagged_fields(self) -> dict[int, bytes]:
        fields = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            fields[tag] = self.take(self.uvarint())
        return fields


def decode_key(data) -> str:
    """The transactional id of a key.

    Raises:
        SchemaError: an unknown key version or a malformed key.
    """
    r = _Reader(data)
    version = r.unpack(_I16)[0]
    if version != KEY_VERSION:
        raise SchemaError(f"unknown key version {version} in the transaction log")
    return r.string()


def _partitions_v0(r: _Reader) -> list[TopicPartition]:
    out = []
    for _ in range(max(r.i32(), 0)):
        topic = r.string()
        count = r.i32()
        if count < 0:
            raise SchemaError("null partition id array")
        out += [TopicPartition(topic, p) for p in r.unpack(struct.Struct(f">{count}i"))]
    return out


def _partitions_v1(r: _Reader) -> list[TopicPartition]:
    out = []
    for _ in range(max(r.uvarint() - 1, 0)):
        topic = r.compact_string()
        count = r.uvarint() - 1
        if count < 0:
            raise SchemaError("null partition id array")
        out += [TopicPartition(topic, p) for p in r.unpack(struct.Struct(f">{count}i"))]
        r.tagged_fields()  # the nested struct's own tagged fields: none are known
    return out


def _tagged_int(fields: dict[int, bytes], tag: int, fmt: str, default: int) -> int:
    data = fields.get(tag)
    if data is None:
        return default
    s = struct.Struct(fmt)
    if len(data) != s.size:
        raise SchemaError(f"tagged field {tag} has {len(data)} bytes, expected {s.size}")
    return s.unpack(data)[0]


def decode_value(data) -> TxnLogValue | None:
    """Parse a value (version 0 or 1); None for a tombstone (``data`` None).

    Raises:
        SchemaError: an unknown version or state byte, or a malformed value.
    """
    if data is None:
        return None
    r = _Reader(data)
    version, producer_id, epoch, timeout_ms, status = r.unpack(_HEAD)
    if version not in (0, 1):
        raise SchemaError(f"unknown value version {version} in the transaction log")
    try:
        state = TxnState.from_byte(status)
    except ValueError:
        raise SchemaError(f"unknown transaction state byte {status}") from None
    partitions = _partitions_v0(r) if version == 0 else _partitions_v1(r)
    last_update_ms, start_ms = r.unpack(_TIMESTAMPS)
    tags = r.tagged_fields() if version >= 1 else {}
    return TxnLogValue(
        producer_id=producer_id, producer_epoch=epoch, timeout_ms=timeout_ms, state=state,
        partitions=() if state is TxnState.EMPTY else tuple(partitions),
        last_update_ms=last_update_ms, start_ms=start_ms,
        previous_producer_id=_tagged_int(tags, _TAG_PREVIOUS_PRODUCER_ID, ">q", -1),
        next_producer_id=_tagged_int(tags, _TAG_NEXT_PRODUCER_ID, ">q", -1),
        client_transaction_version=_tagged_int(tags, _TAG_CLIENT_TRANSACTION_VERSION, ">h", 0))


# -- dump-log text -------------------------------------------------------------------------


def format_key(data) -> str:
    """``transaction_metadata::transactionalId=<id>``, as kafka-dump-log prints a key."""
    return f"transaction_metadata::transactionalId={decode_key(data)}"


def format_value(data) -> str:
    """A value as kafka-dump-log prints it; ``<DELETE>`` for a tombstone."""
    v = decode_value(data)
    if v is None:
        return "<DELETE>"
    partitions = ",".join(str(tp) for tp in v.partitions)
    return (f"producerId:{v.producer_id},producerEpoch:{v.producer_epoch},"
            f"state={v.state.kafka_name},partitions=[{partitions}],"
            f"txnLastUpdateTimestamp={v.last_update_ms},txnTimeoutMs={v.timeout_ms}")
