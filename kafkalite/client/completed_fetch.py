"""Turning one partition's fetched bytes into consumer records (pure; Kafka's CompletedFetch).

What a broker returns for a partition is a run of whole log entries copied from the segment,
so the consumer must cope with:

* **batches that start before the fetch offset** — the broker never splits a batch, so a fetch
  at offset 105 may return the batch 100..109; records below 105 are skipped;
* **a trailing partial batch** — the response is cut at the byte limit; the walker stops there
  silently and the next fetch starts from the last whole record;
* **batches with nothing to deliver** — control batches (transaction markers), or compacted
  batches whose records are all below the fetch offset. The position still moves past them
  (to the batch's last offset + 1), or the consumer would fetch the same bytes forever;
* **aborted transactions** under read_committed (KIP-98): the response lists
  ``(producer_id, first_offset)`` of transactions aborted in the range; records of transactional
  batches from such a producer, from ``first_offset`` until that producer's ABORT marker, are
  dropped. Under read_uncommitted everything but control batches is delivered;
* **legacy magic 0/1 entries** (old data, or a down-converting broker), decoded record by record.

The result is the records to deliver and the new position; the caller owns all state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import MAGIC_V2, RecordBatchView, iter_log_entries
from kafkalite.records.control import ControlType, parse_control_record
from kafkalite.records.legacy import decode_legacy_entry
from kafkalite.records.record import decode_records

__all__ = ["ConsumerRecord", "FetchedRecords", "parse_partition_records"]

TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime", -1: "NoTimestampType"}


@attrs.frozen(kw_only=True)
class ConsumerRecord:
    """One record as the consumer delivers it.

    ``headers`` are ``(key, value)`` pairs (value may be None). ``timestamp_type`` is 0
    (CreateTime), 1 (LogAppendTime) or -1 (no timestamp: magic 0 data).
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_type: int = 0

    @property
    def timestamp_type_name(self) -> str:
        """Kafka's TimestampType.toString: CreateTime / LogAppendTime / NoTimestampType."""
        return TIMESTAMP_TYPES.get(self.timestamp_type, "NoTimestampType")


@attrs.frozen
class FetchedRecords:
    """Records to deliver, and where the next fetch should start."""

    records: list[ConsumerRecord]
    next_offset: int


def parse_partition_records(topic: str, partition: int, data: bytes | memoryview | None,
                            fetch_offset: int, *, read_committed: bool = False,
                            aborted_transactions: Iterable[tuple[int, int]] | None = None,
                            check_crcs: bool = True) -> FetchedRecords:
    """Decode a fetch response's records for one partition.

    Args:
        topic, partition: stamped on every record.
        data: the partition's RECORDS field (None or empty when there is nothing).
        fetch_offset: the offset that was asked for; earlier records are skipped.
        read_committed: drop records of aborted transactions.
        aborted_transactions: ``(producer_id, first_offset)`` pairs from the response.
        check_crcs: verify each v2 batch's CRC-32C (Kafka's ``check.crcs``, default on).

    Returns:
        The deliverable records and the next fetch offset (``fetch_offset`` if no whole entry
        was returned).

    Raises:
        CorruptMessage: a batch fails its CRC or cannot be decoded.
    """
    out: list[ConsumerRecord] = []
    position = fetch_offset
    if not data:
        return FetchedRecords(out, position)
    aborted = sorted(aborted_transactions or (), key=lambda a: a[1]) if read_committed else []
    aborted_index = 0
    aborting: set[int] = set()
    for pos, magic, entry in iter_log_entries(memoryview(data)):
        if magic != MAGIC_V2:
            for record in decode_legacy_entry(entry, check_crc=check_crcs):
                if record.offset >= position:
                    out.append(_consumer_record(topic, partition, record))
                    position = record.offset + 1
            continue
        batch = RecordBatchView(entry)
        if check_crcs and not batch.is_valid():
            raise CorruptMessage(
                f"record batch for partition {topic}-{partition} at offset {batch.base_offset} is "
                f"corrupt (stored crc = {batch.crc}, computed crc = {batch.compute_crc()})")
        last_offset = batch.last_offset
        if last_offset < position:
            continue
        if read_committed:
            while aborted_index < len(aborted) and aborted[aborted_index][1] <= last_offset:
                aborting.add(aborted[aborted_index][0])
                aborted_index += 1
        if batch.is_control:
            if read_committed and batch.producer_id in aborting:
                for record in decode_records(batch):
                    if parse_control_record(record).type == ControlType.ABORT:
                        aborting.discard(batch.producer_id)
            position = max(position, last_offset + 1)
            continue
        if read_committed and batch.is_transactional and batch.producer_id in aborting:
            position = max(position, last_offset + 1)
            continue
        for record in decode_records(batch):
            if record.offset >= position:
                out.append(_consumer_record(topic, partition, record))
        position = max(position, last_offset + 1)
    return FetchedRecords(out, position)


def _consumer_record(topic: str, partition: int, record) -> ConsumerRecord:
    timestamp_type = record.timestamp_type if record.timestamp >= 0 else -1
    return ConsumerRecord(
        topic=topic, partition=partition, offset=record.offset, timestamp=record.timestamp,
        key=record.key, value=record.value,
        headers=tuple((h.key, h.value) for h in record.headers),
        timestamp_type=timestamp_type,
    )


def aborted_pairs(aborted: Sequence | None) -> list[tuple[int, int]]:
    """``(producer_id, first_offset)`` from a response's AbortedTransaction structs."""
    return [(a.producer_id, a.first_offset) for a in (aborted or ())]
