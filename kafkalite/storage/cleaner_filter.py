"""Which records and batches survive a cleaning round (Kafka's Cleaner record filter,
``MemoryRecords.filterTo`` and CleanedTransactionMetadata).

``storage/cleaner.py`` chooses the log, runs the round in a worker thread and swaps the result
in. Every batch of a round goes through the rules here; they see only the batch, the offset map
and what the round has learnt of transactions, and do no I/O. Which batches may be kept empty
(``retain_empty`` below) is decided by the round, ``CleaningJob._retain_empty``.

Which records survive (``should_retain_record``, Kafka 3.x rules):

- records above the offset map's range (``offset > latest_offset``) are kept as they are;
- a keyed record survives when no later offset holds its key, a keyless one never does
  (compacted topics reject them on produce: :func:`validate_compacted_records`);
- a tombstone (null value) survives until its batch's *delete horizon* passes. We use KIP-534's
  horizon, not the older segment-mtime rule: the first time a batch with a surviving tombstone
  is cleaned it is rewritten with attribute bit 6 set and ``baseTimestamp = now +
  delete.retention.ms`` (record timestamp deltas re-based so every record keeps its timestamp);
  a later round at or after that time drops the tombstone. The shell remembers the earliest
  horizon still pending, so a quiet log is re-cleaned when it passes (Kafka would wait for new
  dirty data; harmless extra work, documented as our choice).

Transactions (Kafka's CleanedTransactionMetadata). A round walks the log from its first segment
in offset order, knowing the aborted transactions ``(producer id, first offset, marker offset)``
that :meth:`Log.collect_aborted_transactions` reports for the range. A transactional data batch
lying inside one of its producer's aborted transactions is *aborted*: it never enters the offset
map (so it cannot shadow an older committed value of its keys) and it is dropped whole, even
above the map's range. Every other transactional batch is committed (everything below the LSO is
decided) and is compacted like any batch. A control batch (transaction marker) is kept while its
transaction still has a batch in the log below it: for an ABORT, a batch of that aborted
transaction seen this round; for a COMMIT, a transactional batch of its producer seen since the
producer's previous marker. Once it has none, it is treated like a tombstone: stamped with a
delete horizon (``delete.retention.ms``), then dropped by a round at or after it, so a consumer
that read the data has time to read the marker too. An empty control batch (a marker an earlier
round emptied) is dropped unless kept empty (below); a control batch that is not a COMMIT/ABORT
marker is kept.

Batches keep their identity: base offset, ``lastOffsetDelta`` (so offsets stay contiguous for
consumers and the producer's last sequence stays known), leader epoch, producer id, epoch and
base sequence, timestamp type and codec (filtered records are re-compressed with the batch's own
codec). Surviving records keep their bytes and offset deltas. A batch that loses nothing is
copied byte for byte. A batch that loses everything (aborted batches and expired markers
included) is dropped, except the last batch of the round and the batch holding a producer's last
data offset while that producer is still in the producer state (or, for a producer whose last
record is a marker, its markers of the current epoch): those are kept as empty batches
(``recordsCount`` 0), as Kafka does, so idempotence state, fencing and the last offset survive a
restart. A batch of an aborted transaction kept that way keeps its ABORT marker too.

The offset map is a dict of exact key bytes (Kafka hashes keys with MD5 into a fixed buffer);
its capacity follows Kafka's ``log.cleaner.dedupe.buffer.size`` arithmetic
(:func:`~kafkalite.storage.cleaner.offset_map_capacity`).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import crc32c

from kafkalite.compression import compress, decompress
from kafkalite.errors import CorruptMessage, InvalidRecord
from kafkalite.records.batch import (
    CONTROL_MASK, DELETE_HORIZON_MASK, HEADER, LOG_APPEND_TIME, LOG_OVERHEAD, MAGIC_V2,
    RECORD_BATCH_OVERHEAD, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK, RecordBatchView,
)
from kafkalite.records.control import ControlType, parse_control_record
from kafkalite.records.record import decode_records
from kafkalite.records.varint import encode_varint, read_varint
from kafkalite.storage.txn_index import AbortedTxn

__all__ = [
    "FilteredBatch", "OffsetMap", "discard_batch", "filter_batch", "filter_control_batch",
    "should_retain_record", "validate_compacted_records",
]

_UINT32 = struct.Struct(">I")


# -- the offset map and the per-record decision ------------------------------------------------


class OffsetMap:
    """``key -> largest offset seen`` over the dirty section, plus the last offset it covers.

    ``latest_offset`` starts just below the first dirty offset and grows batch by batch, so a
    round that stops early (map full) knows which records it may judge: anything above
    ``latest_offset`` is kept untouched.
    """

    def __init__(self, capacity: int, *, start_offset: int = 0):
        self.capacity = capacity
        self.latest_offset = start_offset - 1
        self._offsets: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._offsets)

    def put(self, key: bytes, offset: int) -> None:
        self._offsets[key] = offset

    def get(self, key: bytes) -> int:
        """The key's last offset, or -1 when the dirty section does not hold it."""
        return self._offsets.get(key, -1)

    def update_latest_offset(self, offset: int) -> None:
        if offset > self.latest_offset:
            self.latest_offset = offset

    def has_room_for(self, records: int) -> bool:
        return len(self._offsets) + records <= self.capacity


def should_retain_record(offset: int, key: bytes | None, has_value: bool, offset_map: OffsetMap,
                         *, delete_horizon_ms: int | None, now_ms: int) -> bool:
    """Kafka's ``Cleaner.shouldRetainRecord`` for v2 batches (module docstring has the rules).

    ``delete_horizon_ms`` is the batch's stamped horizon, None when it has none yet.
    """
    if offset > offset_map.latest_offset:
        return True
    if key is None:
        return False
    if offset < offset_map.get(key):
        return False
    if has_value:
        return True
    return delete_horizon_ms is None or now_ms < delete_horizon_ms


# -- records inside a batch ----------------------------------------------------------------------


class _Record(NamedTuple):
    """One record of a batch, located in the (decompressed) records blob."""

    offset: int
    timestamp: int
    key: bytes | None
    has_value: bool
    start: int       # first byte of the record (its length varint)
    end: int         # one past its last byte
    rest: int        # first byte after timestampDelta (offsetDelta .. headers)
    attributes: int


def _records_blob(view: RecordBatchView) -> bytes:
    codec = view.compression
    return decompress(codec, view.records_data) if codec else bytes(view.records_data)


def _parse_records(view: RecordBatchView, data: bytes) -> list[_Record]:
    """Walk a batch's records far enough to know offset, timestamp, key and null-ness."""
    base_offset, base_timestamp = view.base_offset, view.base_timestamp
    count = view.records_count
    if count < 0:
        raise CorruptMessage(f"Negative record count {count} in the batch at {base_offset}")
    out: list[_Record] = []
    pos, end = 0, len(data)
    for _ in range(count):
        length, body = read_varint(data, pos)
        record_end = body + length
        if length <= 0 or record_end > end:
            raise CorruptMessage(f"Record length {length} overruns the batch at {base_offset}")
        ts_delta, p = read_varint(data, body + 1)
        rest = p
        offset_delta, p = read_varint(data, p)
        key_length, p = read_varint(data, p)
        key = None
        if key_length >= 0:
            key = data[p:p + key_length]
            p += key_length
        value_length, p = read_varint(data, p)
        if p > record_end or (value_length > 0 and p + value_length > record_end):
            raise CorruptMessage(f"Record fields overrun their record in the batch at "
                                 f"{base_offset}")
        out.append(_Record(base_offset + offset_delta, base_timestamp + ts_delta, key,
                           value_length >= 0, pos, record_end, rest, data[body]))
        pos = record_end
    if pos != end:
        raise CorruptMessage(f"{end - pos} bytes left after the records of the batch at "
                             f"{base_offset}")
    return out


def validate_compacted_records(views: Iterable[RecordBatchView], topic_partition: object
                               ) -> None:
    """Reject keyless records for a compacted topic (Kafka's LogValidator check).

    Decompresses and walks the records, so call it only for compacted topics.

    Raises:
        InvalidRecord: a record has a null key.
        CorruptMessage: undecodable records.
    """
    for view in views:
        if view.is_control:
            continue
        for record in _parse_records(view, _records_blob(view)):
            if record.key is None:
                raise InvalidRecord(f"Compacted topic cannot accept message without key in "
                                    f"topic partition {topic_partition}.")


# -- filtering one batch ------------------------------------------------------------------------


class FilteredBatch(NamedTuple):
    """The outcome for one batch: the bytes to write (None: drop it), whether they differ from
    the input, and the delete horizon of tombstones still in it (None: no pending tombstone)."""

    data: bytes | None
    changed: bool
    pending_horizon_ms: int | None
    records_read: int
    records_retained: int


def filter_batch(view: RecordBatchView, offset_map: OffsetMap, *, now_ms: int,
                 delete_retention_ms: int, retain_empty: bool) -> FilteredBatch:
    """Apply the retention rules to one batch (Kafka's ``MemoryRecords.filterTo`` per batch).

    Args:
        retain_empty: keep an empty batch if nothing survives (last batch of an active
            producer, or last batch of the round).
    """
    count = view.records_count
    if view.is_control or view.base_offset > offset_map.latest_offset:
        return FilteredBatch(bytes(view.buffer), False, None, count, count)
    if count == 0:
        return discard_batch(view, retain_empty=retain_empty)
    data = _records_blob(view)
    records = _parse_records(view, data)
    horizon = view.base_timestamp if view.has_delete_horizon else None
    retained = [r for r in records
                if should_retain_record(r.offset, r.key, r.has_value, offset_map,
                                        delete_horizon_ms=horizon, now_ms=now_ms)]
    has_tombstone = any(not r.has_value for r in retained)
    stamp = has_tombstone and horizon is None
    pending = (now_ms + delete_retention_ms if stamp else horizon) if has_tombstone else None
    if len(retained) == len(records) and not stamp:
        return FilteredBatch(bytes(view.buffer), False, pending, len(records), len(records))
    if not retained:
        empty = _empty_batch(view) if retain_empty else None
        return FilteredBatch(empty, True, None, len(records), 0)
    rebuilt = _rebuild_batch(view, data, retained,
                             new_horizon_ms=now_ms + delete_retention_ms if stamp else None)
    return FilteredBatch(rebuilt, True, pending, len(records), len(retained))


def discard_batch(view: RecordBatchView, *, retain_empty: bool) -> FilteredBatch:
    """Drop every record of a batch (an aborted transaction's batch, an expired marker, an empty
    batch): nothing is written, or an empty batch with ``retain_empty``."""
    count = view.records_count
    if count == 0 and retain_empty:
        return FilteredBatch(bytes(view.buffer), False, None, 0, 0)
    return FilteredBatch(_empty_batch(view) if retain_empty else None, True, None, count, 0)


def filter_control_batch(view: RecordBatchView, *, can_discard: bool, now_ms: int,
                         delete_retention_ms: int, retain_empty: bool) -> FilteredBatch:
    """Apply the marker rules to one control batch (module docstring, "Transactions").

    Args:
        can_discard: the marker's transaction has no batch left below it (or the batch is an
            empty control batch); it may then go once its delete horizon has passed.
        retain_empty: keep an empty batch instead of dropping it (as for :func:`filter_batch`).
    """
    count = view.records_count
    if count == 0:
        return discard_batch(view, retain_empty=retain_empty)
    if not can_discard:
        return FilteredBatch(bytes(view.buffer), False, None, count, count)
    if not view.has_delete_horizon:
        horizon = now_ms + delete_retention_ms
        data = _records_blob(view)
        rebuilt = _rebuild_batch(view, data, _parse_records(view, data),
                                 new_horizon_ms=horizon)
        return FilteredBatch(rebuilt, True, horizon, count, count)
    if now_ms < view.base_timestamp:
        return FilteredBatch(bytes(view.buffer), False, view.base_timestamp, count, count)
    return discard_batch(view, retain_empty=retain_empty)


def _control_type(view: RecordBatchView) -> int | None:
    """The control record type of a control batch, None when it has no record.

    Raises:
        CorruptMessage: the record is not a readable control record.
    """
    records = decode_records(view)
    return parse_control_record(records[0]).type if records else None


def _rebuild_batch(view: RecordBatchView, data: bytes, retained: Sequence[_Record], *,
                   new_horizon_ms: int | None) -> bytes:
    """The batch with only ``retained`` records, same base offset and lastOffsetDelta.

    With ``new_horizon_ms`` the delete-horizon bit is set and baseTimestamp becomes the horizon;
    every record's timestampDelta is re-encoded against it so record timestamps do not change.
    Otherwise the records' bytes are copied as they are.
    """
    attributes = view.attributes
    base_timestamp = view.base_timestamp
    if new_horizon_ms is None:
        blob = b"".join(data[r.start:r.end] for r in retained)
    else:
        attributes |= DELETE_HORIZON_MASK
        base_timestamp = new_horizon_ms
        parts = []
        for r in retained:
            body = (bytes((r.attributes,)) + encode_varint(r.timestamp - base_timestamp)
                    + data[r.rest:r.end])
            parts.append(encode_varint(len(body)) + body)
        blob = b"".join(parts)
    if view.compression:
        blob = compress(view.compression, blob)
    if view.timestamp_type == LOG_APPEND_TIME:
        max_timestamp = view.max_timestamp
    else:
        max_timestamp = max(r.timestamp for r in retained)
    return _pack(view, attributes, base_timestamp, max_timestamp, len(retained), blob)


def _empty_batch(view: RecordBatchView) -> bytes:
    """Kafka's ``writeEmptyHeader``: no records, same offsets and producer fields, no codec."""
    attributes = view.attributes & (TIMESTAMP_TYPE_MASK | TRANSACTIONAL_MASK | CONTROL_MASK)
    return _pack(view, attributes, view.max_timestamp, view.max_timestamp, 0, b"")


def _pack(view: RecordBatchView, attributes: int, base_timestamp: int, max_timestamp: int,
          count: int, blob: bytes) -> bytes:
    buf = bytearray(RECORD_BATCH_OVERHEAD + len(blob))
    HEADER.pack_into(buf, 0, view.base_offset, len(buf) - LOG_OVERHEAD,
                     view.partition_leader_epoch, MAGIC_V2, 0, attributes,
                     view.last_offset_delta, base_timestamp, max_timestamp, view.producer_id,
                     view.producer_epoch, view.base_sequence, count)
    buf[RECORD_BATCH_OVERHEAD:] = blob
    _UINT32.pack_into(buf, 17, crc32c.crc32c(memoryview(buf)[21:]))
    return bytes(buf)


# -- transactions during a round -----------------------------------------------------------------


class _TransactionMetadata:
    """What a round knows of transactions while it walks the log in offset order (Kafka's
    CleanedTransactionMetadata; the rules are in the module docstring).

    ``aborted`` are the aborted transactions overlapping the walked range. A transactional data
    batch is aborted when it lies between the first offset and the marker of one of its
    producer's aborted transactions: a pure range test, so batches may be skipped (the offset
    map starts at the first dirty offset). Which markers still have data is learnt from the
    batches :meth:`on_data_batch` sees, so that needs every batch from the log start.
    """

    def __init__(self, aborted: Iterable[AbortedTxn]):
        self._aborted: dict[int, list[AbortedTxn]] = {}  # producer id -> by first offset
        for txn in sorted(set(aborted), key=lambda t: t.first_offset):
            self._aborted.setdefault(txn.producer_id, []).append(txn)
        self._firsts = {pid: [t.first_offset for t in txns]
                        for pid, txns in self._aborted.items()}
        self._by_marker = {t.last_offset: t for txns in self._aborted.values() for t in txns}
        self._aborted_with_data: set[int] = set()   # marker offsets
        self._committed_with_data: set[int] = set()  # producer ids, until their next marker

    def aborted_txn(self, view: RecordBatchView) -> AbortedTxn | None:
        """The aborted transaction a data batch belongs to, None for any other batch."""
        if view.is_control or not view.is_transactional:
            return None
        pid = view.producer_id
        firsts = self._firsts.get(pid)
        if firsts is None:
            return None
        i = bisect.bisect_right(firsts, view.base_offset) - 1
        if i < 0:
            return None
        txn = self._aborted[pid][i]
        return txn if view.last_offset < txn.last_offset else None

    def on_data_batch(self, view: RecordBatchView) -> bool:
        """Note a data batch; True when it belongs to an aborted transaction."""
        txn = self.aborted_txn(view)
        if txn is not None:
            self._aborted_with_data.add(txn.last_offset)
            return True
        if view.is_transactional:
            self._committed_with_data.add(view.producer_id)
        return False

    def on_control_batch(self, view: RecordBatchView, control_type: int | None
                         ) -> tuple[bool, AbortedTxn | None]:
        """Note a control batch (``control_type`` None: it has no record). Returns whether it
        may be discarded (its transaction has no data left) and, for an ABORT marker, the
        aborted transaction it ends (None when the index does not know it)."""
        pid, offset = view.producer_id, view.base_offset
        if control_type is None:
            return True, None
        if control_type not in (ControlType.ABORT, ControlType.COMMIT):
            return False, None
        committed_data = pid in self._committed_with_data
        self._committed_with_data.discard(pid)
        if control_type == ControlType.COMMIT:
            return not committed_data, None
        txn = self._by_marker.get(offset)
        if txn is not None and txn.producer_id != pid:
            txn = None
        aborted_data = offset in self._aborted_with_data
        self._aborted_with_data.discard(offset)
        # Data taken for committed before an ABORT means the index lacks this transaction:
        # keep the marker, the only record left of what happened.
        return not aborted_data and not committed_data, txn
